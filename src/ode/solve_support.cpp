// Argument checks, NFE counting and failure messages shared by both integrators.
#include "lace/ode/solve_support.hpp"

#include <cmath>
#include <sstream>

namespace lace::ode {

void check_problem(const Tableau& tableau, double t0, double t1, const torch::Tensor& y0) {
  validate_tableau(tableau);
  const std::string& m = tableau.name;
  if (!std::isfinite(t0) || !std::isfinite(t1)) throw std::invalid_argument(m + ": t0 and t1 must be finite");
  if (!y0.defined() || y0.dim() < 1) throw std::invalid_argument(m + ": y0 must be a [batch, ...] tensor");
  if (!y0.is_floating_point()) throw std::invalid_argument(m + ": y0 must be a floating-point tensor");
}

SolveStats zero_stats(int64_t batch) {
  SolveStats stats;
  stats.nfe = torch::zeros({batch}, torch::kLong);
  stats.accepted_steps = torch::zeros({batch}, torch::kLong);
  stats.rejected_steps = torch::zeros({batch}, torch::kLong);
  stats.stopped = torch::zeros({batch}, torch::kBool);
  return stats;
}

VectorField counted_field(const VectorField& f, const std::string& method, SolveStats& stats) {
  return [&f, method, &stats](const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor& rows) {
    torch::Tensor dy = f(t, y, rows);
    if (!dy.defined() || dy.sizes() != y.sizes()) {
      std::ostringstream msg;
      msg << method << ": the vector field returned shape " << (dy.defined() ? dy.sizes() : c10::IntArrayRef{})
          << " for a state of shape " << y.sizes();
      throw std::invalid_argument(msg.str());
    }
    stats.calls += 1;
    int64_t* nfe = stats.nfe.data_ptr<int64_t>();
    const int64_t* r = rows.data_ptr<int64_t>();
    for (int64_t i = 0; i < rows.numel(); ++i) nfe[r[i]] += 1;
    return dy;
  };
}

SolverError solver_error(const std::string& method, const std::string& reason, double t, int64_t row,
                         const std::string& hint) {
  return SolverError(method + ": " + reason + " at t = " + format_number(t) + " for sample " + std::to_string(row) +
                     (hint.empty() ? "" : " (" + hint + ")"));
}

torch::Tensor finite_rows(const torch::Tensor& y) {
  if (y.numel() == 0) return torch::ones({y.size(0)}, torch::kBool);
  return torch::isfinite(y).reshape({y.size(0), -1}).all(1).cpu();
}

void require_finite(const std::string& method, const torch::Tensor& y, double t, const std::string& hint) {
  const torch::Tensor ok = finite_rows(y);
  const bool* ok_p = ok.data_ptr<bool>();
  for (int64_t r = 0; r < ok.size(0); ++r)
    if (!ok_p[r]) throw solver_error(method, "state is not finite", t, r, hint);
}

std::string format_number(double x) {
  std::ostringstream out;
  out << x;  // %g-like, 6 significant digits: "0.42", "3e-17"
  return out.str();
}

}  // namespace lace::ode
