#pragma once
// Initial latents from (seed, index), one image at a time, with our own generator: the z of image i
// depends on nothing but the seed, i and z_dim, not on the batch size, the device or the LibTorch
// version. SplitMix64 feeds a Box-Muller transform in double precision, rounded to float.

#include <cstdint>

#include <torch/types.h>

namespace lace::sampling {

// A small, fully specified random stream (SplitMix64).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();   // in (0, 1): never 0, so log() is safe
  double normal();    // standard normal, Box-Muller (uses two uniforms per call, no caching)

 private:
  uint64_t state_;
};

// The stream for image `index` of a run started with `seed`.
SplitMix64 image_stream(uint64_t seed, int64_t index, uint64_t purpose = 0);

// z for images first .. first+count-1: [count, z_dim] float32 on the CPU.
torch::Tensor initial_latents(uint64_t seed, int64_t first, int64_t count, int64_t z_dim);

// z for image `index` on its retry `attempt` (1, 2, ...; `lace sample --min-p`): [z_dim] float32 on the CPU.
// A stream of its own, so attempt 0 stays initial_latents' z and a retry never repeats any image's start.
torch::Tensor retry_latent(uint64_t seed, int64_t index, int64_t attempt, int64_t z_dim);

}  // namespace lace::sampling
