// SHA-256 against the FIPS 180-2 / NIST example digests, CRC-32 against its check value.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lace/io/crc32.hpp"
#include "lace/io/error.hpp"
#include "lace/io/sha256.hpp"

using namespace lace::io;

namespace {

std::string sha(const std::string& s) { return sha256_hex(s.data(), s.size()); }

}  // namespace

TEST(Sha256, PublishedVectors) {
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),  // 448 bits
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                "klmnopqrlmnopqrsmnopqrstnopqrstu"),  // 896 bits
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecesGiveTheSameDigestAsOneBlock) {
  // Lengths around the 55/56/64-byte padding boundaries, fed in uneven pieces.
  for (size_t n : {55u, 56u, 63u, 64u, 65u, 119u, 120u, 1000u}) {
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i) data[i] = char(i * 7 + 3);
    Sha256 pieces;
    for (size_t at = 0; at < n; at += 13) pieces.update(data.data() + at, std::min<size_t>(13, n - at));
    EXPECT_EQ(pieces.hex_digest(), sha(data)) << n;
  }
}

TEST(Sha256, File) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("lace-io-sha-" + std::to_string(::getpid()) + ".bin");
  { std::ofstream(path, std::ios::binary) << std::string(1000000, 'a'); }
  EXPECT_EQ(sha256_file(path), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  std::filesystem::remove(path);
  try {
    sha256_file(path);
    FAIL() << "missing file hashed";
  } catch (const OutputError& e) {
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sha256_file(std::filesystem::temp_directory_path()), OutputError);  // a folder
}

TEST(Crc32, CheckValue) {
  const std::string check = "123456789";
  EXPECT_EQ(crc32(check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(crc32("", 0), 0u);
  // Running CRC over pieces equals the CRC of the whole.
  EXPECT_EQ(crc32(check.data() + 4, 5, crc32(check.data(), 4)), 0xCBF43926u);
}
