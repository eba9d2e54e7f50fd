#pragma once
// What the samplers follow: an energy per row of z and its gradient dE/dz. LatentEnergy (a condition on
// the latent classifier, for `lace sample`) and EditEnergy (an edit step, for `lace edit`) implement it.

#include <torch/types.h>

namespace lace::sampling {

struct EnergyAndGradient {
  torch::Tensor energy;    // [B]
  torch::Tensor gradient;  // [B, z_dim], dE/dz
};

class EnergyFunction {
 public:
  virtual ~EnergyFunction() = default;
  // rows: int64 CPU indices of z's rows in the batch the energy was made for (an adaptive solver drops
  // finished rows), or an undefined tensor for all of them. Energies with per-row data need it.
  virtual EnergyAndGradient energy_and_gradient(const torch::Tensor& z, const torch::Tensor& rows = {}) const = 0;
  // True when the energy is constant (no condition): samplers may skip the work.
  virtual bool constant() const { return false; }
};

}  // namespace lace::sampling
