// Hairer's rule for the first step: estimate the scale of y, of f and of f's variation with one
// explicit Euler probe, and take the step whose local error would be about the tolerance.
#include "lace/ode/initial_step.hpp"

#include <algorithm>
#include <cmath>

namespace lace::ode {

torch::Tensor initial_step(const VectorField& f, const Tableau& tableau, double t0, double t1, const torch::Tensor& y0,
                           const torch::Tensor& f0, const torch::Tensor& rows, double atol, double rtol,
                           ErrorNorm norm) {
  const int64_t b = y0.size(0);
  const double direction = t1 >= t0 ? 1.0 : -1.0;
  const torch::Tensor scale = atol + rtol * y0.abs();
  const torch::Tensor d0 = rms_norm(y0 / scale, norm);
  const torch::Tensor d1 = rms_norm(f0 / scale, norm);

  // Written so that a NaN norm falls to the small, safe choices (comparisons with NaN are false).
  const double* n0 = d0.data_ptr<double>();
  const double* n1 = d1.data_ptr<double>();
  torch::Tensor h0 = torch::empty({b}, torch::kDouble);
  double* h0_p = h0.data_ptr<double>();
  for (int64_t i = 0; i < b; ++i) h0_p[i] = (n0[i] >= 1e-5 && n1[i] >= 1e-5) ? 0.01 * n0[i] / n1[i] : 1e-6;

  std::vector<int64_t> shape(y0.dim(), 1);
  shape[0] = b;
  const torch::Tensor h0_signed = direction * h0;
  const torch::Tensor y_probe = y0 + h0_signed.to(y0.options()).view(shape) * f0;
  const torch::Tensor t_probe = (t0 + h0_signed).to(y0.options());
  const torch::Tensor f1 = f(t_probe, y_probe, rows);
  const torch::Tensor d2 = rms_norm((f1 - f0) / scale, norm) / h0;

  // An infinite d2 (f blew up at the probe) also falls to the small choice.
  const double* n2 = d2.data_ptr<double>();
  torch::Tensor h = torch::empty({b}, torch::kDouble);
  double* h_p = h.data_ptr<double>();
  const double span = std::abs(t1 - t0);
  for (int64_t i = 0; i < b; ++i) {
    const double d_max = std::max(n1[i], n2[i]);
    const double h1 = (d_max > 1e-15 && std::isfinite(d_max)) ? std::pow(0.01 / d_max, 1.0 / (tableau.order + 1))
                                                              : std::max(1e-6, h0_p[i] * 1e-3);
    h_p[i] = direction * std::min({100.0 * h0_p[i], h1, span});
  }
  return h;
}

}  // namespace lace::ode
