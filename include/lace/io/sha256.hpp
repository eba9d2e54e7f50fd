#pragma once
// SHA-256 (FIPS 180-4), our own so the module needs no crypto library. Used to fingerprint
// model files and outputs in records.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace lace::io {

// Incremental hasher for data that arrives in pieces (files read in blocks).
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::array<uint8_t, 32> digest();  // finishes the hash; call once
  std::string hex_digest();          // 64 lowercase hex digits; finishes the hash

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const void* data, size_t size);
// Throws OutputError("cannot read 'path': <reason>") if the file cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace lace::io
