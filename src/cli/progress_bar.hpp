#pragma once
// A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal
// (pipes and batch scripts get the log lines only).

#include <chrono>
#include <cstdint>
#include <stdexcept>

#include "lace/jobs/progress.hpp"

namespace lace::cli {

// Thrown from the progress callbacks after Ctrl-C, between two images or solver steps, so the job
// stops at a clean point: every image already written is complete. A second Ctrl-C exits at once.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
void install_interrupt_handler();

class ProgressBar : public jobs::Progress {
 public:
  explicit ProgressBar(bool enabled);
  void begin(int64_t total_images) override;
  void batch(int64_t first, int64_t count) override;
  void on_step(const ode::StepEvent& event) override;
  void written(const std::filesystem::path& image) override;
  void end() override;

 private:
  void draw(double batch_progress, int64_t nfe);
  void stop_if_interrupted() const;
  bool enabled_;
  int64_t total_ = 0, done_ = 0, batch_count_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// True when stderr is an interactive terminal.
bool stderr_is_terminal();

}  // namespace lace::cli
