#include "lace/energy/terms.hpp"

#include <ATen/ATen.h>

namespace lace::energy {

torch::Tensor stable_softplus(const torch::Tensor& x) {
  // at::softplus switches to x above a threshold (20), an approximation; -log_sigmoid(-x) is exact
  // everywhere and its backward is stable for |x| in the thousands.
  return -at::log_sigmoid(-x);
}

torch::Tensor binary_energy(const torch::Tensor& logit, bool present) {
  return present ? stable_softplus(-logit) : stable_softplus(logit);
}

torch::Tensor binary_energy(const torch::Tensor& logit, const torch::Tensor& present) {
  return stable_softplus(at::where(present, -logit, logit));
}

torch::Tensor categorical_energy(const torch::Tensor& class_logits, int64_t k) {
  return -at::log_softmax(class_logits, 1).select(1, k);
}

torch::Tensor categorical_energy(const torch::Tensor& class_logits, const torch::Tensor& k) {
  return -at::log_softmax(class_logits, 1).gather(1, k.to(torch::kLong).unsqueeze(1)).squeeze(1);
}

torch::Tensor categorical_not_energy(const torch::Tensor& class_logits, int64_t k) {
  const auto num_classes = class_logits.size(1);
  // The other classes' columns: [0, k) and (k, K).
  auto others = at::cat({class_logits.narrow(1, 0, k), class_logits.narrow(1, k + 1, num_classes - k - 1)}, 1);
  return at::logsumexp(class_logits, {1}) - at::logsumexp(others, {1});
}

torch::Tensor continuous_energy(const torch::Tensor& value, double target, double sigma) {
  return (value - target).pow(2) / (2.0 * sigma * sigma);
}

torch::Tensor continuous_met(const torch::Tensor& value, double target, double sigma, double tolerance) {
  const auto beyond = at::clamp_min(at::abs(value - target) - tolerance, 0.0);
  return at::exp(-continuous_energy(beyond, 0.0, sigma));  // the energy's Gaussian, from the tolerance's edge
}

}  // namespace lace::energy
