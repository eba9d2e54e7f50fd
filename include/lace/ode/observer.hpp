#pragma once
// What a solve cost, and a hook that sees the solve progress (progress bars, logs, tests).

#include <cstdint>

#include <torch/types.h>

namespace lace::ode {

struct SolveStats {
  int64_t calls = 0;                                  // vector-field calls (each call covers the rows still active)
  int64_t accepted = 0;                               // loop iterations in which at least one row accepted its step
  int64_t rejected = 0;                               // loop iterations in which at least one row rejected
  torch::Tensor nfe, accepted_steps, rejected_steps;  // int64 [B] CPU: per row (equal across rows in Batch mode)
  torch::Tensor stopped;  // bool [B] CPU, from integrate_adaptive: rows left short of t1 at their step cap
};

struct StepEvent {
  const torch::Tensor& t;   // [B] float64 CPU: each row's current time (valid during the call: clone to keep)
  double progress;          // in [0, 1]: fraction of |t1 - t0| covered by the slowest row
  const SolveStats& stats;  // totals so far
};

// Called by the integrators after every loop iteration.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_step(const StepEvent& event) = 0;
};

}  // namespace lace::ode
