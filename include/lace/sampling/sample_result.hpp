#pragma once

#include <torch/types.h>

#include "lace/ode/observer.hpp"

namespace lace::sampling {

// What a sampler returns: the final latents and what it cost, per row.
struct SampleResult {
  torch::Tensor z;        // [B, z_dim], on the energy's device
  ode::SolveStats stats;  // nfe / accepted / rejected, totals and per row
};

}  // namespace lace::sampling
