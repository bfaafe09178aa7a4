#include "bitmap.h"

#include <algorithm>

namespace daxfs {
namespace {

constexpr uint64_t kAll = ~uint64_t{0};

// Mask of bits [lo, hi) within one word, 0 <= lo < hi <= 64.
inline uint64_t Mask(unsigned lo, unsigned hi) {
  uint64_t upper = hi == 64 ? kAll : ((uint64_t{1} << hi) - 1);
  return upper & (kAll << lo);
}

class Bits {
 public:
  Bits(const uint64_t* words, uint64_t nbits) : words_(words), nbits_(nbits) {}

  // Word i with the bits past nbits reading as used.
  uint64_t Word(uint64_t i) const {
    uint64_t w = __atomic_load_n(&words_[i], __ATOMIC_RELAXED);
    uint64_t valid = nbits_ - i * 64;
    if (valid < 64) w |= kAll << valid;
    return w;
  }

  // First bit >= p (and < limit) that is clear when `free`, set otherwise;
  // `limit` when there is none.
  uint64_t Next(uint64_t p, uint64_t limit, bool free) const {
    while (p < limit) {
      uint64_t i = p / 64;
      uint64_t w = Word(i);
      if (free) w = ~w;
      w &= kAll << (p % 64);
      if (w != 0) return std::min(i * 64 + static_cast<uint64_t>(__builtin_ctzll(w)), limit);
      p = (i + 1) * 64;
    }
    return limit;
  }

 private:
  const uint64_t* words_;
  uint64_t nbits_;
};

// Scans runs starting in [from, start_limit). Returns true with `*hit` when a
// run of `want` is found; otherwise records the longest run in `*best`.
bool Scan(const Bits& bits, uint64_t nbits, uint64_t from, uint64_t start_limit, uint64_t want,
          FreeRun* hit, FreeRun* best) {
  uint64_t p = from;
  while (p < start_limit) {
    uint64_t s = bits.Next(p, start_limit, true);
    if (s >= start_limit) return false;
    uint64_t cap = std::min(nbits, s + want);
    uint64_t e = bits.Next(s, cap, false);
    if (e - s >= want) {
      *hit = FreeRun{true, s, want};
      return true;
    }
    if (e - s > best->length) *best = FreeRun{true, s, e - s};
    p = e;
  }
  return false;
}

}  // namespace

FreeRun FindFreeRun(const uint64_t* words, uint64_t nbits, uint64_t goal, uint64_t want,
                    uint64_t min_run) {
  Bits bits(words, nbits);
  FreeRun hit, best;
  if (Scan(bits, nbits, goal, nbits, want, &hit, &best)) return hit;
  if (Scan(bits, nbits, 0, goal, want, &hit, &best)) return hit;
  if (best.found && best.length >= min_run) return best;
  return FreeRun{};
}

uint64_t CountInState(const uint64_t* words, uint64_t start, uint64_t count, bool set) {
  uint64_t total = 0;
  uint64_t p = start, end = start + count;
  while (p < end) {
    uint64_t i = p / 64;
    unsigned lo = static_cast<unsigned>(p % 64);
    unsigned hi = static_cast<unsigned>(std::min<uint64_t>(64, end - i * 64));
    uint64_t w = __atomic_load_n(&words[i], __ATOMIC_RELAXED);
    if (!set) w = ~w;
    total += static_cast<uint64_t>(__builtin_popcountll(w & Mask(lo, hi)));
    p = i * 64 + hi;
  }
  return total;
}

void ApplyRun(uint64_t* words, uint64_t start, uint64_t count, bool set) {
  uint64_t p = start, end = start + count;
  while (p < end) {
    uint64_t i = p / 64;
    unsigned lo = static_cast<unsigned>(p % 64);
    unsigned hi = static_cast<unsigned>(std::min<uint64_t>(64, end - i * 64));
    uint64_t m = Mask(lo, hi);
    // Atomic read-modify-write: each 8-byte store is itself failure-atomic
    // on pmem, and other bits of the word are never disturbed.
    if (set) {
      __atomic_fetch_or(&words[i], m, __ATOMIC_RELAXED);
    } else {
      __atomic_fetch_and(&words[i], ~m, __ATOMIC_RELAXED);
    }
    p = i * 64 + hi;
  }
}

uint64_t CountSet(const uint64_t* words, uint64_t nbits) {
  uint64_t total = 0;
  uint64_t full = nbits / 64;
  for (uint64_t i = 0; i < full; i++)
    total += static_cast<uint64_t>(__builtin_popcountll(__atomic_load_n(&words[i], __ATOMIC_RELAXED)));
  if (nbits % 64)
    total += static_cast<uint64_t>(
        __builtin_popcountll(words[full] & Mask(0, static_cast<unsigned>(nbits % 64))));
  return total;
}

}  // namespace daxfs
