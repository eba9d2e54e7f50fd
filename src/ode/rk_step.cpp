// The generic explicit Runge-Kutta step: stages from the tableau, then the solution and the
// embedded error estimate as weighted sums of the stages.
#include "lace/ode/rk_step.hpp"

#include <vector>

namespace lace::ode {
namespace {

// sum_j w_j k_j over the nonzero weights (dopri5 has several zeros); undefined when all are zero.
torch::Tensor combine(const std::vector<double>& w, const std::vector<torch::Tensor>& k) {
  torch::Tensor sum;
  for (size_t j = 0; j < w.size() && j < k.size(); ++j) {
    if (w[j] == 0.0) continue;
    sum = sum.defined() ? sum.add(k[j], w[j]) : k[j] * w[j];
  }
  return sum;
}

// y + h * sum_j w_j k_j, with h broadcast over each row's elements.
torch::Tensor advance(const torch::Tensor& y, const torch::Tensor& h, const std::vector<double>& w,
                      const std::vector<torch::Tensor>& k) {
  const torch::Tensor sum = combine(w, k);
  return sum.defined() ? y + h * sum : y.clone();
}

}  // namespace

RkStep rk_step(const VectorField& f, const Tableau& tableau, const torch::Tensor& t, const torch::Tensor& h,
               const torch::Tensor& y, const torch::Tensor& k0, const torch::Tensor& rows) {
  const auto options = y.options();
  std::vector<int64_t> shape(y.dim(), 1);
  shape[0] = y.size(0);
  const torch::Tensor h_rows = h.to(options).view(shape);

  const size_t stages = tableau.c.size();
  std::vector<torch::Tensor> k{k0};
  torch::Tensor y_stage;
  for (size_t i = 1; i < stages; ++i) {
    y_stage = advance(y, h_rows, tableau.a[i], k);
    k.push_back(f((t + tableau.c[i] * h).to(options), y_stage, rows));
  }

  RkStep step;
  if (tableau.fsal) {
    step.y1 = y_stage;  // the last stage was evaluated at y + h sum_j b_j k_j = y1
    step.k_last = k.back();
  } else {
    step.y1 = advance(y, h_rows, tableau.b, k);
  }
  if (tableau.adaptive()) {
    const torch::Tensor e = combine(tableau.b_error, k);
    step.error = e.defined() ? h_rows * e : torch::zeros_like(y);
  }
  return step;
}

}  // namespace lace::ode
