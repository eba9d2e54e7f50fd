// The adaptive integrator: each row carries its own t, h and first stage; every iteration tries one
// step for the rows not yet at t1, and the controller accepts or rejects it row by row (or for the
// whole batch at once with ErrorNorm::Batch, where every row shares one norm).
#include <cmath>
#include <stdexcept>
#include <vector>

#include "lace/ode/controller.hpp"
#include "lace/ode/initial_step.hpp"
#include "lace/ode/integrate.hpp"
#include "lace/ode/rk_step.hpp"
#include "lace/ode/solve_support.hpp"

namespace lace::ode {
namespace {

void check_options(const std::string& m, const AdaptiveOptions& o) {
  const auto fail = [&](const std::string& what) { throw std::invalid_argument(m + ": " + what); };
  if (!(o.atol >= 0.0) || !(o.rtol >= 0.0) || !(o.atol + o.rtol > 0.0))
    fail("atol and rtol must be >= 0 and not both 0");
  if (!(o.safety > 0.0 && o.safety <= 1.0)) fail("safety must be in (0, 1]");
  if (!(o.min_factor > 0.0 && o.min_factor < 1.0)) fail("min_factor must be in (0, 1)");
  if (!(o.max_factor > 1.0)) fail("max_factor must be > 1");
  if (o.max_steps < 1) fail("max_steps must be at least 1");
  if (!(o.first_step >= 0.0) || !std::isfinite(o.first_step)) fail("first_step must be >= 0 (0: automatic)");
}

torch::Tensor index_tensor(const std::vector<int64_t>& v) {
  return torch::tensor(torch::ArrayRef<int64_t>(v), torch::kLong);
}

}  // namespace

Solution integrate_adaptive(const VectorField& f, const Tableau& tableau, double t0, double t1, const torch::Tensor& y0,
                            const AdaptiveOptions& options, Observer* observer) {
  const std::string& method = tableau.name;
  if (!tableau.adaptive())
    throw std::invalid_argument(method + " has no error estimate: it needs a fixed number of steps");
  check_problem(tableau, t0, t1, y0);
  check_options(method, options);

  const int64_t batch = y0.size(0);
  if (!options.row_max_steps.empty()) {
    if (static_cast<int64_t>(options.row_max_steps.size()) != batch)
      throw std::invalid_argument(method + ": row_max_steps needs one cap per row of y0");
    for (const int64_t c : options.row_max_steps)
      if (c < 1) throw std::invalid_argument(method + ": every row's max_steps must be at least 1");
  }
  const auto cap = [&](int64_t r) { return options.row_max_steps.empty() ? options.max_steps : options.row_max_steps[r]; };
  Solution sol{y0.clone(), zero_stats(batch)};
  SolveStats& stats = sol.stats;
  bool* stopped = stats.stopped.data_ptr<bool>();
  if (batch == 0 || t0 == t1) return sol;
  require_finite(method, y0, t0);

  const VectorField field = counted_field(f, method, stats);
  const torch::Device device = y0.device();
  const IntegralController controller{options.safety, options.min_factor, options.max_factor,
                                      std::min(tableau.order, tableau.embedded_order)};
  const double span = std::abs(t1 - t0);

  // Per-row control state, float64 on the CPU.
  torch::Tensor t = torch::full({batch}, t0, torch::kDouble);
  double* t_p = t.data_ptr<double>();
  int64_t* accepted = stats.accepted_steps.data_ptr<int64_t>();
  int64_t* rejected = stats.rejected_steps.data_ptr<int64_t>();
  std::vector<char> done(batch, 0), after_rejection(batch, 0), to_end(batch, 0);
  std::vector<char> k0_valid(batch, 1);  // k0 holds f(t, y) for this row

  torch::Tensor& y = sol.y;
  const torch::Tensor all_rows = torch::arange(batch, torch::kLong);
  // f gets copies of t: the control state stays ours.
  torch::Tensor k0 = field(t.to(y.options(), false, true), y, all_rows);
  torch::Tensor h =
      options.first_step > 0.0
          ? torch::full({batch}, (t1 > t0 ? 1.0 : -1.0) * std::min(options.first_step, span), torch::kDouble)
          : initial_step(field, tableau, t0, t1, y, k0, all_rows, options.atol, options.rtol, options.norm);
  double* h_p = h.data_ptr<double>();

  while (true) {
    std::vector<int64_t> active;
    for (int64_t r = 0; r < batch; ++r) {
      if (done[r]) continue;
      if (accepted[r] + rejected[r] >= cap(r)) {
        if (!options.stop_rows_at_cap)
          throw solver_error(method, "gave up after " + std::to_string(cap(r)) + " steps", t_p[r], r,
                             "raise --max-steps or loosen --atol/--rtol");
        done[r] = stopped[r] = true;
        continue;
      }
      active.push_back(r);
    }
    if (active.empty()) break;
    const int64_t n = static_cast<int64_t>(active.size());
    const bool everyone = n == batch;

    for (int64_t r : active) {
      // Never step past t1; a remainder too small to step over on its own is absorbed.
      const double remaining = t1 - t_p[r];
      to_end[r] = std::abs(h_p[r]) >= std::abs(remaining) - min_step_size(t1);
      if (to_end[r]) h_p[r] = remaining;
    }

    // Non-FSAL tableaus need f(t, y) afresh after an accepted step (one call for those rows).
    std::vector<int64_t> stale;
    for (int64_t r : active)
      if (!k0_valid[r]) stale.push_back(r);
    if (!stale.empty()) {
      const torch::Tensor rows = index_tensor(stale), rows_dev = rows.to(device);
      k0 =
          k0.index_copy(0, rows_dev, field(t.index_select(0, rows).to(y.options()), y.index_select(0, rows_dev), rows));
      for (int64_t r : stale) k0_valid[r] = 1;
    }

    const torch::Tensor rows = everyone ? all_rows : index_tensor(active);
    const torch::Tensor rows_dev = rows.to(device);
    const torch::Tensor y_a = everyone ? y : y.index_select(0, rows_dev);
    const torch::Tensor k0_a = everyone ? k0 : k0.index_select(0, rows_dev);
    const RkStep step = rk_step(field, tableau, t.index_select(0, rows), h.index_select(0, rows), y_a, k0_a, rows);
    const torch::Tensor norms =
        rms_norm(scale_by_tolerance(step.error, y_a, step.y1, options.atol, options.rtol), options.norm);
    const torch::Tensor finite = finite_rows(step.y1);
    const double* norm_p = norms.data_ptr<double>();
    const bool* finite_p = finite.data_ptr<bool>();

    std::vector<int64_t> taken;  // positions in `active` whose step was accepted
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = active[i];
      const double norm = norm_p[i];
      const bool accept = controller.accept(norm);
      const double factor = controller.factor(norm, after_rejection[r]);
      if (accept) {
        if (!finite_p[i]) throw solver_error(method, "state is not finite", t_p[r] + h_p[r], r);
        t_p[r] = to_end[r] ? t1 : t_p[r] + h_p[r];
        done[r] = to_end[r];
        accepted[r] += 1;
        k0_valid[r] = tableau.fsal;
        taken.push_back(i);
      } else {
        rejected[r] += 1;
      }
      after_rejection[r] = !accept;
      h_p[r] *= factor;
      if (!done[r] && std::abs(h_p[r]) < min_step_size(t_p[r])) {
        throw solver_error(method, "step size underflow (|h| = " + format_number(std::abs(h_p[r])) + ")", t_p[r], r,
                           std::isfinite(norm) ? "" : "the error estimate is not finite");
      }
    }

    const int64_t m = static_cast<int64_t>(taken.size());
    if (m == batch) {  // everyone moved: no scatter needed
      y = step.y1;
      if (tableau.fsal) k0 = step.k_last;
    } else if (m > 0) {
      std::vector<int64_t> taken_rows;
      for (int64_t i : taken) taken_rows.push_back(active[i]);
      const torch::Tensor local = index_tensor(taken).to(device), global = index_tensor(taken_rows).to(device);
      // Out of place: f may still hold the tensors it was given.
      y = y.index_copy(0, global, step.y1.index_select(0, local));
      if (tableau.fsal) k0 = k0.index_copy(0, global, step.k_last.index_select(0, local));
    }
    stats.accepted += m > 0;
    stats.rejected += m < n;

    if (observer) {
      double progress = 1.0;
      for (int64_t r = 0; r < batch; ++r)
        if (!stopped[r]) progress = std::min(progress, std::abs(t_p[r] - t0) / span);
      observer->on_step({t, progress, stats});
    }
  }
  return sol;
}

}  // namespace lace::ode
