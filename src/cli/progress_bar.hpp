#pragma once
// A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal
// (pipes and batch scripts get the log lines only).

#include <chrono>
#include <cstdint>

#include "lace/jobs/progress.hpp"

namespace lace::cli {

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
  bool enabled_;
  int64_t total_ = 0, done_ = 0, batch_count_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// True when stderr is an interactive terminal.
bool stderr_is_terminal();

}  // namespace lace::cli
