// The fixed-step integrator: `steps` equal steps of any tableau, all rows together.
#include <stdexcept>

#include "lace/ode/controller.hpp"
#include "lace/ode/integrate.hpp"
#include "lace/ode/rk_step.hpp"
#include "lace/ode/solve_support.hpp"

namespace lace::ode {

Solution integrate_fixed(const VectorField& f, const Tableau& tableau, double t0, double t1, const torch::Tensor& y0,
                         int64_t steps, Observer* observer) {
  const std::string& method = tableau.name;
  if (steps < 1)
    throw std::invalid_argument(method + ": the number of steps must be at least 1 (got " + std::to_string(steps) +
                                ")");
  check_problem(tableau, t0, t1, y0);

  const int64_t batch = y0.size(0);
  Solution sol{y0.clone(), zero_stats(batch)};
  SolveStats& stats = sol.stats;
  if (batch == 0 || t0 == t1) return sol;

  require_finite(method, y0, t0);

  const VectorField field = counted_field(f, method, stats);
  const ConstantSteps grid{t0, t1, steps};
  const torch::Tensor rows = torch::arange(batch, torch::kLong);
  torch::Tensor t = torch::full({batch}, t0, torch::kDouble);
  torch::Tensor& y = sol.y;
  torch::Tensor k0;  // f(t, y): carried over from the previous step for FSAL tableaus
  for (int64_t i = 0; i < steps; ++i) {
    const torch::Tensor h = torch::full({batch}, grid.time(i + 1) - grid.time(i), torch::kDouble);
    if (!k0.defined()) k0 = field(t.to(y.options(), false, true), y, rows);
    RkStep step = rk_step(field, tableau, t, h, y, k0, rows);
    require_finite(method, step.y1, grid.time(i + 1), "try more steps");
    y = step.y1;
    k0 = tableau.fsal ? step.k_last : torch::Tensor();
    t.fill_(grid.time(i + 1));
    stats.accepted += 1;
    stats.accepted_steps += 1;
    if (observer) observer->on_step({t, static_cast<double>(i + 1) / static_cast<double>(steps), stats});
  }
  return sol;
}

}  // namespace lace::ode
