#pragma once
// PNG encoding with embedded text (iTXt) chunks, and reading those chunks back.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lace/io/image.hpp"

namespace lace::io {

using TextChunks = std::vector<std::pair<std::string, std::string>>;  // keyword, UTF-8 text

// Encodes the image (stb_image_write, 8-bit, no interlace) and inserts one uncompressed iTXt
// chunk per (keyword, text) right after IHDR, in the given order. Identical input gives
// identical bytes. Throws std::invalid_argument for a bad image, a keyword that PNG does not
// allow (1-79 printable Latin-1 characters, no leading, trailing or double spaces) or text
// holding a NUL byte; OutputError if the encoder fails.
std::vector<uint8_t> encode_png(const Image& image, const TextChunks& text = {});

// The text of the first iTXt (uncompressed) or tEXt chunk with this keyword; nullopt if none.
// Checks the signature and every chunk's length and CRC up to IEND. Throws OutputError if the
// file cannot be read, is not a PNG, is malformed, or the matching iTXt chunk is compressed.
std::optional<std::string> read_png_text(const std::filesystem::path& png,
                                         const std::string& keyword);

}  // namespace lace::io
