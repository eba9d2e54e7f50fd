#include "lace/io/image.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lace::io {

void check_image(const Image& image) {
  if (image.width <= 0 || image.height <= 0) {
    throw std::invalid_argument("image size " + std::to_string(image.width) + "x" +
                                std::to_string(image.height) + " is not positive");
  }
  if (image.channels != 1 && image.channels != 3 && image.channels != 4) {
    throw std::invalid_argument("image has " + std::to_string(image.channels) +
                                " channels; 1, 3 or 4 expected");
  }
  const size_t expected = size_t(image.width) * size_t(image.height) * size_t(image.channels);
  if (image.pixels.size() != expected) {
    throw std::invalid_argument("image holds " + std::to_string(image.pixels.size()) +
                                " bytes; " + std::to_string(expected) + " expected");
  }
}

Image contact_sheet(const std::vector<Image>& images, int columns, int padding,
                    uint8_t background) {
  if (images.empty()) throw std::invalid_argument("contact sheet of no images");
  if (columns < 1) throw std::invalid_argument("contact sheet needs at least one column");
  if (padding < 0) throw std::invalid_argument("contact sheet padding is negative");
  const Image& first = images.front();
  for (const Image& image : images) {
    check_image(image);
    if (image.width != first.width || image.height != first.height ||
        image.channels != first.channels) {
      throw std::invalid_argument("contact sheet images differ in size or channels");
    }
  }

  const int n = int(images.size());
  const int cols = std::min(columns, n);  // no empty columns when there are few images
  const int rows = (n + cols - 1) / cols;
  const int w = first.width, h = first.height, c = first.channels;

  Image sheet;
  sheet.width = cols * w + (cols + 1) * padding;
  sheet.height = rows * h + (rows + 1) * padding;
  sheet.channels = c;
  sheet.pixels.assign(size_t(sheet.width) * size_t(sheet.height) * size_t(c), background);

  const size_t row_bytes = size_t(w) * size_t(c);
  for (int i = 0; i < n; ++i) {
    const int x0 = padding + (i % cols) * (w + padding);
    const int y0 = padding + (i / cols) * (h + padding);
    for (int y = 0; y < h; ++y) {
      const uint8_t* src = images[size_t(i)].pixels.data() + size_t(y) * row_bytes;
      uint8_t* dst = sheet.pixels.data() + (size_t(y0 + y) * size_t(sheet.width) + size_t(x0)) * size_t(c);
      std::memcpy(dst, src, row_bytes);
    }
  }
  return sheet;
}

}  // namespace lace::io
