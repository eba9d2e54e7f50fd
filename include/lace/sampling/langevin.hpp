#pragma once
// The baseline sampler (the authors' LACE-LD): Langevin dynamics on the joint energy with the prior,
//   z <- z - eta * (grad_z E(c | z) + z) + s * xi,   xi ~ N(0, I),
// for a fixed number of steps. Each image's noise comes from its own stream (seed, index), so a
// result does not depend on the batch it ran in.

#include <cstdint>
#include <vector>

#include "lace/sampling/energy_function.hpp"
#include "lace/sampling/sample_result.hpp"

namespace lace::sampling {

struct LangevinOptions {
  double step_size = 1e-2;  // eta
  double noise = 1e-2;      // s
  int64_t steps = 100;
};

// z0: [B, z_dim]; image i of the batch has index first_index + i for its noise stream.
SampleResult sample_langevin(const EnergyFunction& energy, const torch::Tensor& z0, const LangevinOptions& options,
                             uint64_t seed, int64_t first_index, ode::Observer* observer = nullptr);

// The same with any image indices, one per row of z0 (the retries of `lace sample --min-p`).
SampleResult sample_langevin(const EnergyFunction& energy, const torch::Tensor& z0, const LangevinOptions& options,
                             uint64_t seed, const std::vector<int64_t>& indices, ode::Observer* observer = nullptr);

}  // namespace lace::sampling
