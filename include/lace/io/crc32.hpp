#pragma once
// CRC-32 as PNG uses it (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor ~0).

#include <cstddef>
#include <cstdint>

namespace lace::io {

// Continue a running CRC: crc32(b, nb, crc32(a, na)) == crc32(a + b). Start with crc = 0.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace lace::io
