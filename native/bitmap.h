// Allocator primitives over an on-media block bitmap: bit i set means block
// i is in use. Bits are numbered LSB-first within little-endian 64-bit words.
// These functions only compute and store; the caller persists what changed.
#pragma once

#include <cstdint>

namespace daxfs {

struct FreeRun {
  bool found = false;
  uint64_t start = 0;
  uint64_t length = 0;
};

// Finds `want` free blocks near `goal`: the first free run of at least `want`
// blocks starting at or after `goal`, then (wrapping) before it; failing
// that, the longest free run of at least `min_run` blocks (capped at `want`),
// the one nearest after `goal` among equals. Requires goal < nbits,
// 1 <= min_run <= want.
FreeRun FindFreeRun(const uint64_t* words, uint64_t nbits, uint64_t goal, uint64_t want,
                    uint64_t min_run);

// How many bits of [start, start + count) are already set (`set`) or clear.
uint64_t CountInState(const uint64_t* words, uint64_t start, uint64_t count, bool set);

// Sets or clears every bit of [start, start + count), a word at a time.
void ApplyRun(uint64_t* words, uint64_t start, uint64_t count, bool set);

// Number of set bits among the first `nbits`.
uint64_t CountSet(const uint64_t* words, uint64_t nbits);

}  // namespace daxfs
