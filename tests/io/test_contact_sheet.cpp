// contact_sheet: size, tile placement, padding colour and rejected inputs.

#include <gtest/gtest.h>

#include <stdexcept>

#include "lace/io/image.hpp"

using namespace lace::io;

namespace {

Image solid(int w, int h, int channels, uint8_t value) {
  return Image{w, h, channels, std::vector<uint8_t>(size_t(w * h * channels), value)};
}

uint8_t at(const Image& image, int x, int y, int c = 0) {
  return image.pixels[size_t((y * image.width + x) * image.channels + c)];
}

}  // namespace

TEST(ContactSheet, GeometryAndPlacement) {
  // Five 3x2 tiles, 3 columns, padding 2: 2 rows, 3*3+4*2 = 17 wide, 2*2+3*2 = 10 high.
  std::vector<Image> tiles;
  for (int i = 0; i < 5; ++i) tiles.push_back(solid(3, 2, 3, uint8_t(10 + i)));
  const Image sheet = contact_sheet(tiles, 3, 2, 200);
  ASSERT_EQ(sheet.width, 17);
  ASSERT_EQ(sheet.height, 10);
  ASSERT_EQ(sheet.channels, 3);
  ASSERT_EQ(sheet.pixels.size(), size_t(17 * 10 * 3));

  // Which tile (or -1 for background) each sheet pixel must show.
  for (int y = 0; y < sheet.height; ++y) {
    for (int x = 0; x < sheet.width; ++x) {
      int tile = -1;
      const int col = (x - 2) / 5, row = (y - 2) / 4;
      const bool inside = x >= 2 && y >= 2 && (x - 2) % 5 < 3 && (y - 2) % 4 < 2 && col < 3 && row < 2;
      if (inside && row * 3 + col < 5) tile = row * 3 + col;
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(at(sheet, x, y, c), tile < 0 ? 200 : 10 + tile) << x << "," << y;
      }
    }
  }
}

TEST(ContactSheet, KeepsPixelOrderInsideTiles) {
  Image tile{2, 2, 1, {1, 2, 3, 4}};
  const Image sheet = contact_sheet({tile, tile}, 2, 1, 0);
  ASSERT_EQ(sheet.width, 7);
  ASSERT_EQ(sheet.height, 4);
  const std::vector<uint8_t> expected = {0, 0, 0, 0, 0, 0, 0,  //
                                         0, 1, 2, 0, 1, 2, 0,  //
                                         0, 3, 4, 0, 3, 4, 0,  //
                                         0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(sheet.pixels, expected);
}

TEST(ContactSheet, FewerImagesThanColumnsAndNoPadding) {
  const Image sheet = contact_sheet({solid(4, 4, 3, 1), solid(4, 4, 3, 2)}, 8, 0);
  EXPECT_EQ(sheet.width, 8);  // two columns, not eight
  EXPECT_EQ(sheet.height, 4);
  EXPECT_EQ(at(sheet, 3, 3), 1);
  EXPECT_EQ(at(sheet, 4, 0), 2);
}

TEST(ContactSheet, RejectsBadInput) {
  EXPECT_THROW(contact_sheet({}, 2), std::invalid_argument);
  EXPECT_THROW(contact_sheet({solid(2, 2, 3, 0)}, 0), std::invalid_argument);
  EXPECT_THROW(contact_sheet({solid(2, 2, 3, 0)}, 1, -1), std::invalid_argument);
  EXPECT_THROW(contact_sheet({solid(2, 2, 3, 0), solid(2, 3, 3, 0)}, 2), std::invalid_argument);
  EXPECT_THROW(contact_sheet({solid(2, 2, 3, 0), solid(2, 2, 1, 0)}, 2), std::invalid_argument);
  EXPECT_THROW(contact_sheet({Image{2, 2, 3, {1, 2}}}, 1), std::invalid_argument);
}
