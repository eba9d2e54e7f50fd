#pragma once
// The two integrators: adaptive (embedded error estimate + step-size control) and fixed (N equal steps).
// Both go from t0 to t1 in either direction (lace integrates from t = 1 down to 1e-3).

#include <cstdint>
#include <stdexcept>
#include <vector>

#include <torch/types.h>

#include "lace/ode/error_norm.hpp"
#include "lace/ode/observer.hpp"
#include "lace/ode/tableau.hpp"
#include "lace/ode/vector_field.hpp"

namespace lace::ode {

struct AdaptiveOptions {
  double atol = 1e-3, rtol = 1e-3;
  ErrorNorm norm = ErrorNorm::PerSample;
  double safety = 0.9, min_factor = 0.2, max_factor = 10.0;
  int64_t max_steps = 10000;  // per row, accepted + rejected
  // Optional: one cap per row of y0 (empty: max_steps for every row), and whether a row at its cap stops
  // where it is (SolveStats::stopped) instead of failing the whole solve. A caller that can use the rows
  // that finished (lace edit's retries) sets both; everyone else gets the failure.
  std::vector<int64_t> row_max_steps;
  bool stop_rows_at_cap = false;
  double first_step = 0.0;    // |h| of the first step; 0: Hairer's automatic rule
};

struct Solution {
  torch::Tensor y;  // y(t1), y0's shape, dtype and device
  SolveStats stats;
};

// A solve that could not finish: one line naming the method, the reason, the time and the row.
class SolverError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws std::invalid_argument for a tableau without an embedded method or bad options,
// SolverError when the integration fails (step size underflow, non-finite state, max_steps unless
// stop_rows_at_cap).
Solution integrate_adaptive(const VectorField& f, const Tableau& tableau, double t0, double t1, const torch::Tensor& y0,
                            const AdaptiveOptions& options, Observer* observer = nullptr);

// `steps` equal steps of any tableau (its error estimate, if any, is ignored).
// Throws std::invalid_argument when steps < 1, SolverError when the state stops being finite.
Solution integrate_fixed(const VectorField& f, const Tableau& tableau, double t0, double t1, const torch::Tensor& y0,
                         int64_t steps, Observer* observer = nullptr);

}  // namespace lace::ode
