#include "crc32.h"

#include <array>
#include <cstring>

namespace daxfs {
namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

// table[0] is the classic byte-at-a-time table; table[k][b] is the CRC of
// byte b followed by k zero bytes, which lets one step fold eight bytes.
constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t c = b;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][b] = c;
  }
  for (size_t k = 1; k < 8; k++)
    for (size_t b = 0; b < 256; b++) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  return t;
}

constexpr Tables kTables = MakeTables();

}  // namespace

uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t length) {
  uint32_t c = ~crc;
  // Eight bytes at a time, read little-endian (the slicing tables assume the
  // first byte is the lowest): byte by byte on the few big-endian hosts.
  if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
    while (length >= 8) {
      uint32_t lo, hi;
      std::memcpy(&lo, data, 4);
      std::memcpy(&hi, data + 4, 4);
      lo ^= c;
      c = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
          kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
      data += 8;
      length -= 8;
    }
  }
  while (length-- > 0) c = kTables[0][(c ^ *data++) & 0xff] ^ (c >> 8);
  return ~c;
}

}  // namespace daxfs
