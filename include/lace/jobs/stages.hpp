#pragma once
// Where a job's time went, in seconds, for `lace -v` and the benchmarks. On CUDA the solve's last kernels
// may finish inside `synthesis` (the first step that waits for the device there); `writing` is CPU work on
// either device.

#include <chrono>

namespace lace::jobs {

struct StageSeconds {
  double load = 0;       // manifest, expressions, bundle loading and hashing (for the records)
  double solve = 0;      // the latent ODE or Langevin sampler (for `lace edit`: the start's condition too)
  double synthesis = 0;  // mapping, classifier readings and the generator's images, to the CPU
  double writing = 0;    // PNG encoding, records, atomic writes, strips and contact sheets

  double total() const { return load + solve + synthesis + writing; }
};

// A stopwatch read in laps: each call to lap() returns the seconds since the previous one (or since
// construction), so consecutive stages add up to the whole job with nothing counted twice.
class LapTimer {
 public:
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }
  double since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
};

}  // namespace lace::jobs
