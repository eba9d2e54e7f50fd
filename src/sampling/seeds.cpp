#include "lace/sampling/seeds.hpp"

#include <cmath>

namespace lace::sampling {
namespace {
constexpr uint64_t kRetryPurpose = 0x100;  // + attempt; purpose 1 is Langevin's noise
}

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double SplitMix64::uniform() {
  // 53 random bits, shifted by half a step so the result is never exactly 0 or 1.
  return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double SplitMix64::normal() {
  const double u1 = uniform(), u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

SplitMix64 image_stream(uint64_t seed, int64_t index, uint64_t purpose) {
  // Mix the three numbers through SplitMix64 itself so nearby seeds give unrelated streams.
  SplitMix64 mix(seed);
  const uint64_t a = mix.next();
  SplitMix64 mix2(a ^ static_cast<uint64_t>(index) * 0xD1B54A32D192ED03ULL);
  const uint64_t b = mix2.next();
  SplitMix64 mix3(b ^ purpose * 0x8CB92BA72F3D8DD7ULL);
  return SplitMix64(mix3.next());
}

torch::Tensor initial_latents(uint64_t seed, int64_t first, int64_t count, int64_t z_dim) {
  auto z = torch::empty({count, z_dim}, torch::kFloat);
  auto acc = z.accessor<float, 2>();
  for (int64_t i = 0; i < count; ++i) {
    SplitMix64 stream = image_stream(seed, first + i);
    for (int64_t j = 0; j < z_dim; ++j) acc[i][j] = static_cast<float>(stream.normal());
  }
  return z;
}

torch::Tensor retry_latent(uint64_t seed, int64_t index, int64_t attempt, int64_t z_dim) {
  auto z = torch::empty({z_dim}, torch::kFloat);
  auto acc = z.accessor<float, 1>();
  SplitMix64 stream = image_stream(seed, index, kRetryPurpose + static_cast<uint64_t>(attempt));
  for (int64_t j = 0; j < z_dim; ++j) acc[j] = static_cast<float>(stream.normal());
  return z;
}

}  // namespace lace::sampling
