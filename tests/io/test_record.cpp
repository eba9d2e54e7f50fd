// write_image_with_record / read_record: the record survives both ways, float32 z exactly.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "lace/io/error.hpp"
#include "lace/io/png.hpp"
#include "lace/io/record.hpp"

using namespace lace::io;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class Record : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("lace-io-record-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Floats that are hard to print: extremes, subnormals, negative zero, non-terminating decimals.
std::vector<float> tricky_floats() {
  using lim = std::numeric_limits<float>;
  std::vector<float> z = {0.0f, -0.0f, 0.1f, 1.0f / 3.0f, -2.5f, lim::max(), lim::lowest(),
                          lim::min(), lim::denorm_min(), -lim::denorm_min(), lim::epsilon(),
                          16777217.0f, 1e-38f, 3.4028e38f};
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal;
  for (int i = 0; i < 4096; ++i) z.push_back(normal(rng));
  std::uniform_int_distribution<uint32_t> any_bits;
  while (z.size() < 8192) {  // every exponent, random mantissas
    uint32_t bits = any_bits(rng);
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isfinite(f)) z.push_back(f);
  }
  return z;
}

void expect_bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    if (x != y) {
      ADD_FAILURE() << "z[" << i << "]: " << a[i] << " came back as " << b[i];
      return;
    }
  }
}

const Image kImage{2, 2, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};

}  // namespace

TEST_F(Record, RoundTripsThroughPngAndSidecarWithExactFloats) {
  const std::vector<float> z = tricky_floats();
  const json record = {{"lace_version", "0.1.0"},
                       {"seed", 42},
                       {"prompt", u8"caf\u00e9 \u2713"},
                       {"guidance", 0.1},
                       {"z_shape", {1, 4, 32, 64}},
                       {"z", float_array(z)}};
  const fs::path png = dir / "00001-0000.png", sidecar = dir / "00001-0000.json";
  write_image_with_record(png, sidecar, kImage, record);

  const json from_png = read_record(png);
  EXPECT_EQ(from_png, record);
  expect_bit_equal(floats_from_json(from_png.at("z")), z);

  EXPECT_EQ(contents(sidecar), record.dump(2) + "\n");
  const json from_sidecar = json::parse(contents(sidecar));
  EXPECT_EQ(from_sidecar, record);
  expect_bit_equal(floats_from_json(from_sidecar.at("z")), z);

  EXPECT_EQ(read_png_text(png, "lace"), record.dump());  // compact in the PNG
}

TEST_F(Record, NeverOverwritesAndNeverLeavesAnImageWithoutSidecar) {
  const fs::path png = dir / "a.png", sidecar = dir / "a.json";
  write_image_with_record(png, sidecar, kImage, {{"seed", 1}});
  EXPECT_THROW(write_image_with_record(png, dir / "b.json", kImage, {{"seed", 2}}), OutputError);
  EXPECT_EQ(read_record(png).at("seed"), 1);
  EXPECT_FALSE(fs::exists(dir / "b.json"));

  // The sidecar's name is taken: the new PNG must be removed again, the old sidecar kept.
  const std::string old_sidecar = contents(sidecar);
  EXPECT_THROW(write_image_with_record(dir / "c.png", sidecar, kImage, {{"seed", 3}}), OutputError);
  EXPECT_FALSE(fs::exists(dir / "c.png"));
  EXPECT_EQ(contents(sidecar), old_sidecar);

  std::vector<std::string> names;
  for (auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a.json", "a.png"}));
}

TEST_F(Record, ReadRecordErrors) {
  const fs::path plain = dir / "plain.png";
  const std::vector<uint8_t> bytes = encode_png(kImage, {{"Comment", "hello"}});
  std::ofstream(plain, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
  try {
    read_record(plain);
    FAIL() << "no record expected";
  } catch (const OutputError& e) {
    EXPECT_EQ(std::string(e.what()), "'" + plain.string() + "' holds no lace record");
  }

  const fs::path broken = dir / "broken.png";
  const std::vector<uint8_t> bad = encode_png(kImage, {{"lace", "{\"seed\": "}});
  std::ofstream(broken, std::ios::binary).write(reinterpret_cast<const char*>(bad.data()), long(bad.size()));
  EXPECT_THROW(read_record(broken), OutputError);
  EXPECT_THROW(read_record(dir / "missing.png"), OutputError);
}

TEST(FloatArray, RejectsWhatJsonCannotHold) {
  EXPECT_THROW(float_array({1.0f, std::numeric_limits<float>::quiet_NaN()}), std::invalid_argument);
  EXPECT_THROW(float_array({std::numeric_limits<float>::infinity()}), std::invalid_argument);
  EXPECT_THROW(floats_from_json(json::object()), std::invalid_argument);
  EXPECT_THROW(floats_from_json(json::array({1, "x"})), std::invalid_argument);
  EXPECT_EQ(floats_from_json(json::array({1, 2.5})), (std::vector<float>{1.0f, 2.5f}));
}

namespace {

Image noise_image(int size, unsigned seed) {
  Image image{size, size, 3, std::vector<uint8_t>(static_cast<size_t>(size) * size * 3)};
  std::mt19937 rng(seed);
  for (auto& p : image.pixels) p = static_cast<uint8_t>(rng() & 0xff);
  return image;
}

}  // namespace

TEST(EncodeImagesWithRecords, SameBytesAsOneByOneOnAnyNumberOfThreads) {
  std::vector<Image> images;
  std::vector<json> records;
  for (int i = 0; i < 7; ++i) {
    images.push_back(noise_image(16 + i, static_cast<unsigned>(i)));
    records.push_back(json{{"index", i}, {"z", {0.5 * i, -1.25}}});
  }
  std::vector<EncodedRecord> expected;
  for (size_t i = 0; i < images.size(); ++i) expected.push_back(encode_image_with_record(images[i], records[i]));
  for (unsigned threads : {1u, 2u, 3u, 16u, 0u}) {
    const auto got = encode_images_with_records(images, records, threads);
    ASSERT_EQ(got.size(), expected.size()) << threads << " threads";
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].png, expected[i].png) << "image " << i << ", " << threads << " threads";
      EXPECT_EQ(got[i].sidecar, records[i].dump(2) + "\n");
    }
  }
  EXPECT_TRUE(encode_images_with_records({}, {}).empty());
  EXPECT_THROW(encode_images_with_records(images, {records[0]}), std::invalid_argument);
}

TEST(EncodeImagesWithRecords, RethrowsTheFailureOfTheLowestIndex) {
  std::vector<Image> images(6, noise_image(8, 1));
  std::vector<json> records(6, json{{"ok", true}});
  const json bad_utf8 = json{{"text", std::string("\xff\xfe")}};  // dump() throws json::type_error
  Image bad_image = noise_image(8, 2);
  bad_image.pixels.pop_back();  // check_image: std::invalid_argument
  for (unsigned threads : {1u, 4u}) {
    auto recs = records;
    auto imgs = images;
    recs[1] = bad_utf8;
    imgs[4] = bad_image;
    EXPECT_THROW(encode_images_with_records(imgs, recs, threads), json::type_error) << threads << " threads";
    recs = records;
    imgs = images;
    imgs[1] = bad_image;
    recs[4] = bad_utf8;
    EXPECT_THROW(encode_images_with_records(imgs, recs, threads), std::invalid_argument) << threads << " threads";
  }
}
