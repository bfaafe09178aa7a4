// CRC-32 as zlib computes it (the reflected polynomial 0xEDB88320, initial
// value and final XOR all ones): the checksum the journal's on-media format
// uses, so what native code writes is what the TypeScript reader (node:zlib)
// checks. On x86-64 CPUs with PCLMULQDQ (checked at load) runs of 64 bytes
// and more are folded by carry-less multiplication, about six times the
// speed of the tables; otherwise, and for the last bytes, table-driven,
// eight bytes per step ("slicing-by-8", tables built at compile time).
// Loads and arithmetic only: safe to run guarded.
#pragma once

#include <cstddef>
#include <cstdint>

namespace daxfs {

// The CRC-32 of `length` bytes at `data`, continuing from `crc` (0 to
// start): Crc32(Crc32(0, a), b) == Crc32(0, a followed by b), as zlib's
// crc32(crc, buf, len).
uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t length);

}  // namespace daxfs
