#include "lace/io/png.hpp"

#include <stdexcept>
#include <string>

#include "lace/io/crc32.hpp"
#include "lace/io/error.hpp"

// stb_image_write's implementation lives in this file only; static so that it cannot clash
// with Debian's libstb, and without stdio because we write files ourselves (atomically).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

namespace lace::io {
namespace {

constexpr size_t kSignatureSize = 8;
constexpr size_t kIhdrChunkSize = 4 + 4 + 13 + 4;  // length, type, data, CRC

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

// A whole chunk: length, type, data, CRC over type and data.
void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_u32(out, uint32_t(data.size()));
  const size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32(out, crc32(out.data() + type_at, 4 + data.size()));
}

// PNG keywords: 1-79 printable Latin-1 characters, no leading, trailing or double spaces.
void check_keyword(const std::string& keyword) {
  bool ok = !keyword.empty() && keyword.size() <= 79 && keyword.front() != ' ' &&
            keyword.back() != ' ' && keyword.find("  ") == std::string::npos;
  for (unsigned char ch : keyword) ok = ok && ((ch >= 32 && ch <= 126) || ch >= 161);
  if (!ok) throw std::invalid_argument("'" + keyword + "' is not a valid PNG text keyword");
}

// iTXt data: keyword, NUL, compression flag 0, method 0, empty language tag and translated
// keyword (each NUL-terminated), then the UTF-8 text itself, uncompressed.
std::vector<uint8_t> itxt_data(const std::string& keyword, const std::string& text) {
  check_keyword(keyword);
  if (text.find('\0') != std::string::npos) {
    throw std::invalid_argument("text for PNG keyword '" + keyword + "' holds a NUL byte");
  }
  if (text.size() > 0x7FFFFFFFu - 84) {
    throw std::invalid_argument("text for PNG keyword '" + keyword + "' is too long");
  }
  std::vector<uint8_t> data(keyword.begin(), keyword.end());
  const uint8_t header[] = {0, 0, 0, 0, 0};
  data.insert(data.end(), header, header + sizeof header);
  data.insert(data.end(), text.begin(), text.end());
  return data;
}

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& image, const TextChunks& text) {
  check_image(image);
  // Build the text chunks first, so that a bad keyword fails before any encoding work.
  std::vector<uint8_t> chunks;
  for (const auto& [keyword, value] : text) put_chunk(chunks, "iTXt", itxt_data(keyword, value));

  std::vector<uint8_t> plain;
  const int stride = image.width * image.channels;
  if (!stbi_write_png_to_func(append, &plain, image.width, image.height, image.channels,
                              image.pixels.data(), stride) ||
      plain.size() < kSignatureSize + kIhdrChunkSize ||
      std::string(plain.begin() + 12, plain.begin() + 16) != "IHDR") {
    throw OutputError("cannot encode a " + std::to_string(image.width) + "x" +
                      std::to_string(image.height) + " PNG: encoder failed");
  }

  // Signature and IHDR, then our chunks, then the rest (IDAT, IEND) as stb wrote it.
  plain.insert(plain.begin() + kSignatureSize + kIhdrChunkSize, chunks.begin(), chunks.end());
  return plain;
}

}  // namespace lace::io
