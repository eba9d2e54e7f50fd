#pragma once
// The energy of a latent z under a condition: E(c | z) = energy(classifier(truncate(mapping(z)))), with
// each discrete term's energy times the guidance scale g (for an AND of discrete terms, samples follow
// p(z) p(c | z)^g; g = 1 is LACE). Continuous targets are not scaled: their sharpness is the bundle's
// sigma, and scaling a Gaussian energy only makes the ODE stiffer (yaw=0.6 on the face bundle: 818
// vector-field evaluations per image at g = 1, 1,580 at g = 2).
// Its gradient with respect to z (torch autograd through the TorchScript mapping and classifier) is
// what every sampler follows. The synthesis network is not involved.
// With a prior (energy/prior.hpp) and a weight lambda > 0 the energy is E(c | z) + lambda E_prior(z): the
// generator's mix of the attributes c leaves free is pulled toward the data's; unconditional sampling then
// follows E_prior alone.

#include <optional>

#include <torch/types.h>

#include "lace/energy/energy.hpp"
#include "lace/energy/prior.hpp"
#include "lace/model/bundle.hpp"
#include "lace/sampling/energy_function.hpp"

namespace lace::sampling {

class LatentEnergy : public EnergyFunction {
 public:
  LatentEnergy(const model::Bundle& bundle, energy::Energy condition, double truncation, double guidance = 1.0,
               std::optional<energy::AttributePrior> prior = std::nullopt, double prior_weight = 0.0);

  torch::Tensor w(const torch::Tensor& z) const;        // truncated w, [B, w_dim]
  torch::Tensor logits(const torch::Tensor& z) const;   // classifier logits of the truncated w
  torch::Tensor energy(const torch::Tensor& z) const;   // [B], the guided E(c | z) (+ the weighted prior), no gradient
  EnergyAndGradient energy_and_gradient(const torch::Tensor& z, const torch::Tensor& rows = {}) const override;
  bool constant() const override { return condition_.unconditional() && !prior_on(); }

  const model::Bundle& bundle() const { return bundle_; }
  const energy::Energy& condition() const { return condition_; }
  double truncation() const { return truncation_; }
  double guidance() const { return guidance_; }
  bool prior_on() const { return prior_.has_value() && prior_weight_ > 0; }

 private:
  torch::Tensor energy_of(const torch::Tensor& logits) const;  // the guided condition plus the weighted prior

  const model::Bundle& bundle_;
  energy::Energy condition_;
  double truncation_;
  double guidance_;
  std::optional<energy::AttributePrior> prior_;
  double prior_weight_;
};

}  // namespace lace::sampling
