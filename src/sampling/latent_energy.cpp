#include "lace/sampling/latent_energy.hpp"

#include <torch/torch.h>

namespace lace::sampling {

LatentEnergy::LatentEnergy(const model::Bundle& bundle, energy::Energy condition, double truncation, double guidance,
                           std::optional<energy::AttributePrior> prior, double prior_weight)
    : bundle_(bundle),
      condition_(std::move(condition)),
      truncation_(truncation),
      guidance_(guidance),
      prior_(std::move(prior)),
      prior_weight_(prior_weight) {}

torch::Tensor LatentEnergy::w(const torch::Tensor& z) const {
  return bundle_.truncate(bundle_.mapping(z), truncation_);
}

torch::Tensor LatentEnergy::logits(const torch::Tensor& z) const { return bundle_.classify(w(z)); }

torch::Tensor LatentEnergy::energy_of(const torch::Tensor& logits) const {
  auto e = condition_(logits, guidance_);
  if (prior_on()) e = e + prior_weight_ * (*prior_)(logits).to(e.scalar_type());
  return e;
}

torch::Tensor LatentEnergy::energy(const torch::Tensor& z) const {
  torch::NoGradGuard no_grad;
  return energy_of(logits(z));
}

EnergyAndGradient LatentEnergy::energy_and_gradient(const torch::Tensor& z, const torch::Tensor&) const {
  if (constant()) return {torch::zeros({z.size(0)}, z.options()), torch::zeros_like(z)};
  torch::AutoGradMode grad_mode(true);
  auto zg = z.detach().requires_grad_(true);
  auto e = energy_of(logits(zg));
  // Rows are independent, so the gradient of the sum gives every row its own dE/dz.
  auto grad = torch::autograd::grad({e.sum()}, {zg})[0];
  return {e.detach(), grad.detach()};
}

}  // namespace lace::sampling
