#include "lace/sampling/latent_energy.hpp"

#include <torch/torch.h>

namespace lace::sampling {

LatentEnergy::LatentEnergy(const model::Bundle& bundle, energy::Energy condition, double truncation, double guidance)
    : bundle_(bundle), condition_(std::move(condition)), truncation_(truncation), guidance_(guidance) {}

torch::Tensor LatentEnergy::w(const torch::Tensor& z) const {
  return bundle_.truncate(bundle_.mapping(z), truncation_);
}

torch::Tensor LatentEnergy::logits(const torch::Tensor& z) const { return bundle_.classify(w(z)); }

torch::Tensor LatentEnergy::energy(const torch::Tensor& z) const {
  torch::NoGradGuard no_grad;
  return condition_(logits(z), guidance_);
}

EnergyAndGradient LatentEnergy::energy_and_gradient(const torch::Tensor& z, const torch::Tensor&) const {
  if (condition_.unconditional()) return {torch::zeros({z.size(0)}, z.options()), torch::zeros_like(z)};
  torch::AutoGradMode grad_mode(true);
  auto zg = z.detach().requires_grad_(true);
  auto e = condition_(logits(zg), guidance_);
  // Rows are independent, so the gradient of the sum gives every row its own dE/dz.
  auto grad = torch::autograd::grad({e.sum()}, {zg})[0];
  return {e.detach(), grad.detach()};
}

}  // namespace lace::sampling
