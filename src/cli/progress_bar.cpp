#include "cli/progress_bar.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

namespace lace::cli {
namespace {

std::atomic<bool> interrupted{false};

void on_interrupt(int) {
  if (interrupted.exchange(true)) _exit(130);  // second Ctrl-C: stop now
}

}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

void ProgressBar::stop_if_interrupted() const {
  if (interrupted.load())
    throw Interrupted("interrupted after " + std::to_string(done_) + " of " + std::to_string(total_) +
                      " images; those written are complete");
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled) {}

void ProgressBar::begin(int64_t total_images) {
  total_ = total_images;
  done_ = 0;
  start_ = std::chrono::steady_clock::now();
}

void ProgressBar::batch(int64_t /*first*/, int64_t count) {
  stop_if_interrupted();
  batch_count_ = count;
  draw(0.0, 0);
}

void ProgressBar::on_step(const ode::StepEvent& event) {
  stop_if_interrupted();
  // Redraw at most 10 times a second: drawing is not free on a slow terminal.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  draw(event.progress, event.stats.calls);
}

void ProgressBar::written(const std::filesystem::path& /*image*/) {
  ++done_;
  stop_if_interrupted();
}

void ProgressBar::end() {
  if (!enabled_) return;
  draw(0.0, -1);
  std::fputc('\n', stderr);
}

void ProgressBar::draw(double batch_progress, int64_t nfe) {
  if (!enabled_ || total_ == 0) return;
  last_draw_ = std::chrono::steady_clock::now();
  const double fraction = (static_cast<double>(done_) + batch_progress * static_cast<double>(batch_count_)) /
                          static_cast<double>(total_);
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth + 0.5);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  const double seconds = std::chrono::duration<double>(last_draw_ - start_).count();
  if (nfe >= 0)
    std::fprintf(stderr, "\r[%s] %3d%%  %lld/%lld images  solver calls %lld  %.1fs ", bar,
                 static_cast<int>(fraction * 100), static_cast<long long>(done_), static_cast<long long>(total_),
                 static_cast<long long>(nfe), seconds);
  else
    std::fprintf(stderr, "\r[%s] %3d%%  %lld/%lld images  %.1fs%20s", bar, static_cast<int>(fraction * 100),
                 static_cast<long long>(done_), static_cast<long long>(total_), seconds, "");
  std::fflush(stderr);
}

}  // namespace lace::cli
