#include "lace/io/png.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "lace/io/crc32.hpp"
#include "lace/io/error.hpp"

namespace lace::io {
namespace {

const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

std::vector<uint8_t> read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OutputError("cannot read '" + path.string() + "': " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw OutputError("cannot read '" + path.string() + "': read error");
  return bytes;
}

}  // namespace

std::optional<std::string> read_png_text(const std::filesystem::path& png,
                                         const std::string& keyword) {
  // Folders open fine as streams on Linux and then read as empty; say what they are instead.
  std::error_code ec;
  if (std::filesystem::is_directory(png, ec)) {
    throw OutputError("cannot read '" + png.string() + "': " + std::strerror(EISDIR));
  }
  const std::vector<uint8_t> bytes = read_all(png);
  auto malformed = [&](const std::string& why) {
    return OutputError("'" + png.string() + "' is not a valid PNG: " + why);
  };
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) {
    throw malformed("bad signature");
  }

  // Walk every chunk up to IEND, checking lengths and CRCs, and keep the first match.
  std::optional<std::string> found;
  size_t at = 8;
  for (;;) {
    if (bytes.size() - at < 12) throw malformed("truncated chunk at byte " + std::to_string(at));
    const uint32_t length = get_u32(&bytes[at]);
    const std::string type(bytes.begin() + long(at) + 4, bytes.begin() + long(at) + 8);
    if (length > 0x7FFFFFFFu || bytes.size() - at - 12 < length) {
      throw malformed("chunk '" + type + "' at byte " + std::to_string(at) + " runs past the end");
    }
    const uint8_t* data = &bytes[at + 8];
    if (crc32(&bytes[at + 4], 4 + size_t(length)) != get_u32(data + length)) {
      throw malformed("chunk '" + type + "' at byte " + std::to_string(at) + " has a bad CRC");
    }
    if (type == "IEND") break;

    const bool text_chunk = type == "tEXt" || type == "iTXt";
    const size_t nul = keyword.size();
    if (!found && text_chunk && length > nul && data[nul] == 0 &&
        std::memcmp(data, keyword.data(), nul) == 0) {
      const std::string body(data, data + length);
      if (type == "tEXt") {
        found = body.substr(nul + 1);
      } else {
        // flag, method, language tag NUL, translated keyword NUL, text.
        const size_t lang_end = body.size() < nul + 3 ? std::string::npos : body.find('\0', nul + 3);
        const size_t trans_end = lang_end == std::string::npos ? lang_end : body.find('\0', lang_end + 1);
        if (trans_end == std::string::npos) throw malformed("iTXt chunk '" + keyword + "' is truncated");
        if (body[nul + 1] != 0) {
          throw OutputError("'" + png.string() + "': compressed iTXt chunk '" + keyword +
                            "' is not supported");
        }
        found = body.substr(trans_end + 1);
      }
    }
    at += 12 + size_t(length);
  }
  return found;
}

}  // namespace lace::io
