#include "lace/io/tensor_image.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace lace::io {

Image image_from_tensor(const torch::Tensor& chw) {
  if (!chw.defined() || chw.dim() != 3 || (chw.size(0) != 1 && chw.size(0) != 3) ||
      chw.size(1) < 1 || chw.size(2) < 1) {
    throw std::invalid_argument("image tensor must be [C, H, W] with C = 1 or 3 and H, W > 0");
  }
  // Copy to the CPU as float32 first: the rounding below then runs on the same code path for
  // every device and dtype, so the same values always give the same bytes.
  const torch::Tensor cpu = chw.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t c = cpu.size(0), h = cpu.size(1), w = cpu.size(2);
  const float* src = cpu.data_ptr<float>();

  Image image;
  image.channels = int(c);
  image.height = int(h);
  image.width = int(w);
  image.pixels.resize(size_t(c * h * w));
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t i = 0; i < h * w; ++i) {  // CHW -> HWC
      const double x = src[ch * h * w + i];
      if (std::isnan(x)) throw std::invalid_argument("image tensor holds NaN");
      const double v = (std::clamp(x, -1.0, 1.0) + 1.0) * 127.5;  // in double, as documented
      image.pixels[size_t(i * c + ch)] = uint8_t(std::lround(v));
    }
  }
  return image;
}

}  // namespace lace::io
