// encode_png checked by decoding its output with an independent minimal PNG decoder (inflate
// after RFC 1951, in the manner of zlib's puff.c, and the five PNG row filters), so the test
// needs no zlib or libpng; plus the iTXt chunks, CRCs, determinism and read_png_text's errors.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "lace/io/crc32.hpp"
#include "lace/io/error.hpp"
#include "lace/io/png.hpp"

using namespace lace::io;
namespace fs = std::filesystem;

namespace {

// ---- inflate --------------------------------------------------------------------------------

struct Bits {
  const std::vector<uint8_t>& in;
  size_t pos = 0;
  uint32_t buf = 0;
  int count = 0;
  int get(int n) {  // n bits, least significant first
    while (count < n) {
      if (pos >= in.size()) throw std::runtime_error("inflate: out of input");
      buf |= uint32_t(in[pos++]) << count;
      count += 8;
    }
    const int v = int(buf & ((1u << n) - 1));
    buf >>= n;
    count -= n;
    return v;
  }
};

// Canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
  std::vector<int> count = std::vector<int>(16, 0), symbol;
  explicit Huffman(const std::vector<int>& lengths) {
    for (int len : lengths) count[size_t(len)]++;
    std::vector<int> offset(16, 0);
    for (int len = 1; len < 15; ++len) offset[size_t(len + 1)] = offset[size_t(len)] + count[size_t(len)];
    symbol.resize(lengths.size());
    for (size_t s = 0; s < lengths.size(); ++s) {
      if (lengths[s] != 0) symbol[size_t(offset[size_t(lengths[s])]++)] = int(s);
    }
  }
  int decode(Bits& bits) const {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; ++len) {
      code |= bits.get(1);
      const int n = count[size_t(len)];
      if (code - n < first) return symbol[size_t(index + (code - first))];
      index += n;
      first = (first + n) << 1;
      code <<= 1;
    }
    throw std::runtime_error("inflate: bad code");
  }
};

const int kLenBase[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                        35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
const int kLenExtra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                         3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
const int kDistBase[] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                         193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
                         6145, 8193, 12289, 16385, 24577};
const int kDistExtra[] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                          6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

void inflate_block(Bits& bits, const Huffman& lit, const Huffman& dist, std::vector<uint8_t>& out) {
  for (;;) {
    int sym = lit.decode(bits);
    if (sym < 256) {
      out.push_back(uint8_t(sym));
    } else if (sym == 256) {
      return;
    } else {
      sym -= 257;
      if (sym >= 29) throw std::runtime_error("inflate: bad length");
      const int len = kLenBase[sym] + bits.get(kLenExtra[sym]);
      const int d = dist.decode(bits);
      if (d >= 30) throw std::runtime_error("inflate: bad distance");
      const size_t back = size_t(kDistBase[d] + bits.get(kDistExtra[d]));
      if (back > out.size()) throw std::runtime_error("inflate: distance too far");
      for (int i = 0; i < len; ++i) out.push_back(out[out.size() - back]);
    }
  }
}

std::vector<uint8_t> inflate(const std::vector<uint8_t>& in) {
  Bits bits{in};
  std::vector<uint8_t> out;
  int last = 0;
  while (!last) {
    last = bits.get(1);
    const int type = bits.get(2);
    if (type == 0) {  // stored
      bits.buf = 0;
      bits.count = 0;
      if (bits.pos + 4 > in.size()) throw std::runtime_error("inflate: stored header");
      const size_t len = in[bits.pos] | in[bits.pos + 1] << 8;
      const size_t nlen = in[bits.pos + 2] | in[bits.pos + 3] << 8;
      if (len != (~nlen & 0xFFFF) || bits.pos + 4 + len > in.size()) throw std::runtime_error("inflate: stored");
      out.insert(out.end(), in.begin() + long(bits.pos + 4), in.begin() + long(bits.pos + 4 + len));
      bits.pos += 4 + len;
    } else if (type == 1) {  // fixed Huffman
      std::vector<int> lit(288), dist(30, 5);
      for (int s = 0; s < 288; ++s) lit[size_t(s)] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
      inflate_block(bits, Huffman(lit), Huffman(dist), out);
    } else if (type == 2) {  // dynamic Huffman
      const int nlit = bits.get(5) + 257, ndist = bits.get(5) + 1, ncode = bits.get(4) + 4;
      static const int order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
      std::vector<int> code_lengths(19, 0);
      for (int i = 0; i < ncode; ++i) code_lengths[size_t(order[i])] = bits.get(3);
      const Huffman code(code_lengths);
      std::vector<int> lengths;
      while (int(lengths.size()) < nlit + ndist) {
        const int sym = code.decode(bits);
        if (sym < 16) {
          lengths.push_back(sym);
        } else {
          int repeat = 0, value = 0;
          if (sym == 16) {
            if (lengths.empty()) throw std::runtime_error("inflate: repeat of nothing");
            value = lengths.back();
            repeat = 3 + bits.get(2);
          } else {
            repeat = sym == 17 ? 3 + bits.get(3) : 11 + bits.get(7);
          }
          lengths.insert(lengths.end(), size_t(repeat), value);
        }
      }
      const Huffman lit(std::vector<int>(lengths.begin(), lengths.begin() + nlit));
      const Huffman dist(std::vector<int>(lengths.begin() + nlit, lengths.begin() + nlit + ndist));
      inflate_block(bits, lit, dist, out);
    } else {
      throw std::runtime_error("inflate: bad block type");
    }
  }
  return out;
}

// ---- PNG ------------------------------------------------------------------------------------

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

struct Chunk {
  std::string type;
  std::vector<uint8_t> data;
  bool crc_ok;
};

std::vector<Chunk> chunks_of(const std::vector<uint8_t>& png) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (png.size() < 8 || std::memcmp(png.data(), signature, 8) != 0) throw std::runtime_error("signature");
  std::vector<Chunk> chunks;
  for (size_t at = 8; at < png.size();) {
    if (png.size() - at < 12) throw std::runtime_error("truncated chunk");
    const uint32_t len = be32(&png[at]);
    if (png.size() - at - 12 < len) throw std::runtime_error("chunk too long");
    Chunk chunk{std::string(png.begin() + long(at) + 4, png.begin() + long(at) + 8),
                std::vector<uint8_t>(png.begin() + long(at) + 8, png.begin() + long(at) + 8 + len),
                crc32(&png[at + 4], 4 + len) == be32(&png[at + 8 + len])};
    chunks.push_back(chunk);
    at += 12 + len;
  }
  return chunks;
}

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return uint8_t(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

Image decode_png(const std::vector<uint8_t>& png) {
  Image image;
  std::vector<uint8_t> idat;
  for (const Chunk& chunk : chunks_of(png)) {
    if (chunk.type == "IHDR") {
      const uint8_t* d = chunk.data.data();
      image.width = int(be32(d));
      image.height = int(be32(d + 4));
      if (d[8] != 8 || d[10] != 0 || d[11] != 0 || d[12] != 0) throw std::runtime_error("unexpected IHDR");
      const int channels[7] = {1, 0, 3, 0, 2, 0, 4};
      image.channels = channels[d[9]];
    } else if (chunk.type == "IDAT") {
      idat.insert(idat.end(), chunk.data.begin(), chunk.data.end());
    }
  }
  if (idat.size() < 6 || (idat[0] * 256 + idat[1]) % 31 != 0 || (idat[0] & 15) != 8) {
    throw std::runtime_error("bad zlib header");
  }
  const std::vector<uint8_t> raw = inflate(std::vector<uint8_t>(idat.begin() + 2, idat.end() - 4));
  // Adler-32 of the inflated data must match the zlib trailer.
  uint32_t s1 = 1, s2 = 0;
  for (uint8_t b : raw) { s1 = (s1 + b) % 65521; s2 = (s2 + s1) % 65521; }
  if ((s2 << 16 | s1) != be32(&idat[idat.size() - 4])) throw std::runtime_error("bad adler32");

  const size_t bpp = size_t(image.channels), stride = size_t(image.width) * bpp;
  if (raw.size() != size_t(image.height) * (stride + 1)) throw std::runtime_error("bad data size");
  image.pixels.resize(size_t(image.height) * stride);
  for (size_t y = 0; y < size_t(image.height); ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* row = &image.pixels[y * stride];
    const uint8_t* up = y > 0 ? row - stride : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? row[x - bpp] : 0, b = up ? up[x] : 0;
      const int c = up && x >= bpp ? up[x - bpp] : 0;
      int predictor = 0;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) / 2; break;
        case 4: predictor = paeth(a, b, c); break;
        default: throw std::runtime_error("bad filter");
      }
      row[x] = uint8_t(in[x] + predictor);
    }
  }
  return image;
}

int first_block_type(const std::vector<uint8_t>& png) {
  for (const Chunk& chunk : chunks_of(png)) {
    if (chunk.type == "IDAT") return (chunk.data.at(2) >> 1) & 3;  // after the 2-byte zlib header
  }
  return -1;
}

Image test_image(int width, int height, int channels) {
  Image image{width, height, channels, {}};
  for (int i = 0; i < width * height * channels; ++i) image.pixels.push_back(uint8_t((i * 37) ^ (i >> 3)));
  return image;
}

// A scratch file path unique to this process; removed by the test that makes it.
fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() / ("lace-io-png-" + std::to_string(::getpid()) + "-" + name);
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
}

std::string error_of(const fs::path& path, const std::string& keyword) {
  try {
    read_png_text(path, keyword);
  } catch (const OutputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// The test's own decoder, on a stream it did not write: zlib.compress(data, 9) from Python,
// which uses a dynamic-Huffman block (stb writes fixed-Huffman or stored blocks).
TEST(Png, TestDecoderInflatesZlibOutput) {
  const std::vector<uint8_t> stream = {
      0x78, 0xda, 0x6d, 0x92, 0x4b, 0x0a, 0x80, 0x30, 0x0c, 0x44, 0xaf, 0x92, 0x23, 0x68, 0xdb, 0xb4,
      0x29, 0x9e, 0xa6, 0x48, 0xc1, 0x45, 0xc0, 0x45, 0x57, 0xde, 0x5e, 0x5c, 0x4a, 0xde, 0x76, 0xc8,
      0x7c, 0x32, 0x89, 0x8f, 0x73, 0xca, 0x26, 0x6b, 0x3c, 0x4b, 0xae, 0xe9, 0x7e, 0x1f, 0xe2, 0x1f,
      0xb4, 0x47, 0xa8, 0x44, 0xa8, 0x03, 0xb1, 0x46, 0x2c, 0x69, 0xc4, 0x32, 0xcc, 0x15, 0xd0, 0xab,
      0x60, 0x6b, 0x90, 0x2e, 0x83, 0x2d, 0x50, 0x4b, 0x8b, 0x58, 0x4b, 0xc0, 0x05, 0x07, 0x70, 0xad,
      0x30, 0xd7, 0x69, 0x5b, 0x88, 0xd7, 0xa8, 0x76, 0xd0, 0x53, 0xe0, 0x76, 0x6a, 0x8f, 0x0e, 0x44,
      0x77, 0x24, 0x3d, 0xe0, 0x2a, 0xe4, 0x33, 0xa8, 0x00, 0xd6, 0x4d, 0xd0, 0xb2, 0x01, 0x57, 0xc1,
      0x36, 0x41, 0x05, 0x46, 0x8f, 0x41, 0x4f, 0x00, 0x59, 0x76, 0x98, 0x33, 0xa8, 0xaf, 0xfe, 0xb1,
      0x17, 0xef, 0x69, 0x04, 0xa5};
  ASSERT_EQ((stream[2] >> 1) & 3, 2);  // dynamic Huffman
  std::string expected;
  for (int i = 0; i < 40; ++i) expected += "lace " + std::to_string(i * i % 97) + " says hello; ";
  const std::vector<uint8_t> out = inflate(std::vector<uint8_t>(stream.begin() + 2, stream.end() - 4));
  EXPECT_EQ(std::string(out.begin(), out.end()), expected);
}

TEST(Png, DecodesBackToTheSamePixels) {
  for (int channels : {1, 3, 4}) {
    for (auto [w, h] : {std::pair{1, 1}, std::pair{5, 3}, std::pair{64, 48}}) {
      const Image image = test_image(w, h, channels);
      const Image decoded = decode_png(encode_png(image, {{"lace", "{}"}}));
      EXPECT_EQ(decoded.width, w);
      EXPECT_EQ(decoded.height, h);
      EXPECT_EQ(decoded.channels, channels);
      EXPECT_EQ(decoded.pixels, image.pixels) << w << "x" << h << "x" << channels;
    }
  }
  // Smooth content compresses (a fixed-Huffman block), noise is stored: both must decode.
  Image flat{200, 100, 3, std::vector<uint8_t>(200 * 100 * 3, 17)};
  const std::vector<uint8_t> flat_png = encode_png(flat);
  EXPECT_EQ(first_block_type(flat_png), 1);
  EXPECT_EQ(decode_png(flat_png).pixels, flat.pixels);
  Image noise{200, 100, 3, {}};
  std::mt19937 rng(7);
  for (int i = 0; i < 200 * 100 * 3; ++i) noise.pixels.push_back(uint8_t(rng()));
  const std::vector<uint8_t> noise_png = encode_png(noise);
  EXPECT_EQ(first_block_type(noise_png), 0);
  EXPECT_EQ(decode_png(noise_png).pixels, noise.pixels);
}

TEST(Png, TextChunksFollowIhdrWithValidCrcs) {
  const std::string text = u8"{\"prompt\":\"caf\u00e9 \u2713\",\"z\":[0.5]}";
  const std::vector<uint8_t> png = encode_png(test_image(4, 4, 3), {{"lace", text}, {"Software", "lace"}});
  const std::vector<Chunk> chunks = chunks_of(png);
  ASSERT_GE(chunks.size(), 5u);
  EXPECT_EQ(chunks[0].type, "IHDR");
  EXPECT_EQ(chunks[1].type, "iTXt");
  EXPECT_EQ(chunks[2].type, "iTXt");
  EXPECT_EQ(chunks.back().type, "IEND");
  for (const Chunk& chunk : chunks) EXPECT_TRUE(chunk.crc_ok) << chunk.type;

  // keyword NUL, compression flag 0, method 0, empty language NUL, empty translation NUL, text
  std::string expected = std::string("lace") + '\0' + '\0' + '\0' + '\0' + '\0' + text;
  EXPECT_EQ(std::string(chunks[1].data.begin(), chunks[1].data.end()), expected);

  const fs::path path = scratch("text.png");
  write_bytes(path, png);
  EXPECT_EQ(read_png_text(path, "lace"), text);
  EXPECT_EQ(read_png_text(path, "Software"), "lace");
  EXPECT_EQ(read_png_text(path, "lac"), std::nullopt);
  EXPECT_EQ(read_png_text(path, "Comment"), std::nullopt);
  fs::remove(path);
}

TEST(Png, IdenticalInputGivesIdenticalBytes) {
  const Image image = test_image(33, 17, 3);
  const TextChunks text = {{"lace", "{\"seed\":1}"}};
  const std::vector<uint8_t> first = encode_png(image, text);
  EXPECT_EQ(encode_png(image, text), first);
  EXPECT_EQ(encode_png(Image(image), TextChunks(text)), first);
  Image other = image;
  other.pixels[5] ^= 1;
  EXPECT_NE(encode_png(other, text), first);
}

TEST(Png, RejectsBadInput) {
  EXPECT_THROW(encode_png(Image{2, 2, 3, std::vector<uint8_t>(11)}), std::invalid_argument);
  EXPECT_THROW(encode_png(Image{0, 2, 3, {}}), std::invalid_argument);
  EXPECT_THROW(encode_png(Image{1, 1, 2, std::vector<uint8_t>(2)}), std::invalid_argument);
  const Image ok = test_image(1, 1, 3);
  EXPECT_THROW(encode_png(ok, {{"", "x"}}), std::invalid_argument);
  EXPECT_THROW(encode_png(ok, {{" lace", "x"}}), std::invalid_argument);
  EXPECT_THROW(encode_png(ok, {{"a  b", "x"}}), std::invalid_argument);
  EXPECT_THROW(encode_png(ok, {{std::string(80, 'k'), "x"}}), std::invalid_argument);
  EXPECT_THROW(encode_png(ok, {{"lace", std::string("a\0b", 3)}}), std::invalid_argument);
  EXPECT_NO_THROW(encode_png(ok, {{std::string(79, 'k'), ""}}));
}

TEST(Png, ReadTextReportsUnreadableAndMalformedFiles) {
  const fs::path path = scratch("bad.png");
  fs::remove(path);
  EXPECT_NE(error_of(path, "lace").find("No such file or directory"), std::string::npos);
  EXPECT_NE(error_of(fs::temp_directory_path(), "lace").find("Is a directory"), std::string::npos);

  const std::vector<uint8_t> good = encode_png(test_image(3, 3, 3), {{"lace", "{}"}});

  write_bytes(path, std::vector<uint8_t>{'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0});
  EXPECT_NE(error_of(path, "lace").find("bad signature"), std::string::npos) << error_of(path, "lace");

  std::vector<uint8_t> corrupt = good;
  corrupt[8 + 25 + 8 + 2] ^= 0x20;  // a byte inside the iTXt keyword
  write_bytes(path, corrupt);
  EXPECT_NE(error_of(path, "lace").find("bad CRC"), std::string::npos) << error_of(path, "lace");

  write_bytes(path, std::vector<uint8_t>(good.begin(), good.end() - 6));  // IEND cut short
  EXPECT_NE(error_of(path, "lace").find("is not a valid PNG"), std::string::npos) << error_of(path, "lace");

  std::vector<uint8_t> huge = good;
  huge[8] = 0x7F;  // IHDR claims a length far past the end of the file
  write_bytes(path, huge);
  EXPECT_NE(error_of(path, "lace").find("runs past the end"), std::string::npos) << error_of(path, "lace");

  write_bytes(path, good);
  EXPECT_EQ(error_of(path, "lace"), "");
  fs::remove(path);
}
