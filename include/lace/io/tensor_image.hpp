#pragma once
// The one place where a torch tensor becomes an 8-bit image (and the only io header with torch).

#include <torch/types.h>

#include "lace/io/image.hpp"

namespace lace::io {

// [C, H, W] with C = 1 or 3, values in [-1, 1], any dtype convertible to float, any device.
// Each value x is clamped to [-1, 1] and mapped to std::lround((x + 1) * 127.5), computed in
// double on the CPU, so the result is the same whatever device produced the tensor:
//   -1 -> 0, 0 -> 128 (127.5 rounds half away from zero), 1 -> 255.
// Throws std::invalid_argument for another shape, an empty tensor or a NaN value
// (a NaN means the sampler diverged; a silently black pixel would hide that).
Image image_from_tensor(const torch::Tensor& chw);

}  // namespace lace::io
