#pragma once
// Step-size control, kept apart from the Runge-Kutta step and from the error norm.

#include <cstdint>

namespace lace::ode {

// The integral ("I") controller of Hairer, Norsett & Wanner (Solving ODEs I, II.4):
//   h_new = h * clamp(safety * norm^(-1/(q+1)), min_factor, max_factor),  q = min(order, embedded_order),
// where norm is the scaled RMS error of the step just tried. A step is accepted when norm <= 1.
struct IntegralController {
  double safety = 0.9;
  double min_factor = 0.2;
  double max_factor = 10.0;
  int q = 4;

  // A non-finite norm is a failed step, never an accepted one.
  bool accept(double norm) const;
  // The factor to multiply h by. Right after a rejection the step does not grow (factor <= 1):
  // the error model has just proved too optimistic. A non-finite norm gives min_factor.
  double factor(double norm, bool after_rejection) const;
};

// The smallest |h| worth trying at time t: below it t + h rounds back to t (or nearly).
double min_step_size(double t);

// Constant-step "control" for fixed-step methods: n equal steps from t0 to t1.
struct ConstantSteps {
  double t0, t1;
  int64_t n;
  // The i-th grid time; computed from the ends (not accumulated) so that time(n) == t1 exactly.
  double time(int64_t i) const;
};

}  // namespace lace::ode
