// image_from_tensor: the value mapping, clamping, layout and rejected inputs.

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>

#include <torch/cuda.h>

#include "lace/io/tensor_image.hpp"

using namespace lace::io;

TEST(TensorImage, MapsEndsAndMiddleAndClamps) {
  // One grey row: -1, 0, 1, out of range both ways, and values in between.
  const torch::Tensor t = torch::tensor({-1.0f, 0.0f, 1.0f, -3.0f, 7.0f, 0.5f, -0.5f, 1e-7f})
                              .reshape({1, 1, 8});
  const Image image = image_from_tensor(t);
  EXPECT_EQ(image.channels, 1);
  EXPECT_EQ(image.width, 8);
  EXPECT_EQ(image.height, 1);
  // 0 -> 127.5 rounds half away from zero -> 128; 0.5 -> 191.25 -> 191; -0.5 -> 63.75 -> 64.
  const std::vector<uint8_t> expected = {0, 128, 255, 0, 255, 191, 64, 128};
  EXPECT_EQ(image.pixels, expected);
}

TEST(TensorImage, ChwBecomesHwc) {
  // Channel c, row y, column x holds a value that encodes all three.
  torch::Tensor t = torch::zeros({3, 2, 4});
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 4; ++x) t.index_put_({c, y, x}, (c * 8 + y * 4 + x) / 127.5 - 1.0);
    }
  }
  const Image image = image_from_tensor(t);
  ASSERT_EQ(image.channels, 3);
  ASSERT_EQ(image.width, 4);
  ASSERT_EQ(image.height, 2);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 4; ++x) {
        EXPECT_EQ(image.pixels[size_t((y * 4 + x) * 3 + c)], c * 8 + y * 4 + x) << c << y << x;
      }
    }
  }
}

TEST(TensorImage, DtypeAndStridesDoNotMatter) {
  const torch::Tensor base = torch::linspace(-1.2, 1.2, 3 * 5 * 7).reshape({3, 5, 7});
  const Image reference = image_from_tensor(base);
  EXPECT_EQ(image_from_tensor(base.to(torch::kDouble)).pixels, reference.pixels);
  // A non-contiguous view with the same values.
  const torch::Tensor transposed = base.transpose(1, 2).contiguous().transpose(1, 2);
  EXPECT_FALSE(transposed.is_contiguous());
  EXPECT_EQ(image_from_tensor(transposed).pixels, reference.pixels);
  EXPECT_EQ(image_from_tensor(base).pixels, reference.pixels);  // deterministic
  if (torch::cuda::is_available()) {
    EXPECT_EQ(image_from_tensor(base.to(torch::kCUDA)).pixels, reference.pixels);
  }
}

TEST(TensorImage, RejectsBadShapesAndNaN) {
  EXPECT_THROW(image_from_tensor(torch::zeros({2, 4, 4})), std::invalid_argument);
  EXPECT_THROW(image_from_tensor(torch::zeros({1, 3, 4, 4})), std::invalid_argument);
  EXPECT_THROW(image_from_tensor(torch::zeros({3, 0, 4})), std::invalid_argument);
  EXPECT_THROW(image_from_tensor(torch::Tensor()), std::invalid_argument);
  torch::Tensor nan = torch::zeros({1, 2, 2});
  nan.index_put_({0, 1, 1}, std::numeric_limits<float>::quiet_NaN());
  EXPECT_THROW(image_from_tensor(nan), std::invalid_argument);
}
