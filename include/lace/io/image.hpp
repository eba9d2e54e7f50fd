#pragma once
// An 8-bit image in memory, independent of torch, and the contact sheet that tiles several.

#include <cstdint>
#include <vector>

namespace lace::io {

// Row-major HWC: pixel (x, y) channel c is pixels[(y * width + x) * channels + c].
// channels is 1 (grey), 3 (RGB) or 4 (RGBA).
struct Image {
  int width = 0, height = 0, channels = 3;
  std::vector<uint8_t> pixels;
};

// Throws std::invalid_argument unless the size is positive, channels is 1, 3 or 4 and
// pixels.size() == width * height * channels.
void check_image(const Image& image);

// Tiles equally sized images (same width, height and channels) into one sheet, filling each
// row left to right, then top to bottom. The sheet has min(columns, n) columns and
// ceil(n / columns) rows, with `padding` pixels of `background` around and between tiles:
//   width  = cols * w + (cols + 1) * padding,  height = rows * h + (rows + 1) * padding,
// and tile i has its top-left corner at (padding + (i % cols) * (w + padding),
//                                        padding + (i / cols) * (h + padding)).
// Throws std::invalid_argument on no images, mismatched images, columns < 1 or padding < 0.
Image contact_sheet(const std::vector<Image>& images, int columns, int padding = 2,
                    uint8_t background = 255);

}  // namespace lace::io
