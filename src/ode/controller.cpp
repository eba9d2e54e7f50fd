// The integral step-size controller and the constant-step grid.
#include "lace/ode/controller.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lace::ode {

bool IntegralController::accept(double norm) const { return std::isfinite(norm) && norm <= 1.0; }

double IntegralController::factor(double norm, bool after_rejection) const {
  if (!std::isfinite(norm)) return min_factor;  // nothing to model: shrink as hard as allowed
  double f = norm == 0.0 ? max_factor : safety * std::pow(norm, -1.0 / (q + 1));
  f = std::clamp(f, min_factor, max_factor);
  return after_rejection ? std::min(f, 1.0) : f;
}

double min_step_size(double t) { return 16.0 * std::numeric_limits<double>::epsilon() * std::max(std::abs(t), 1e-3); }

double ConstantSteps::time(int64_t i) const {
  if (i >= n) return t1;
  return t0 + (t1 - t0) * (static_cast<double>(i) / static_cast<double>(n));
}

}  // namespace lace::ode
