// A benchmark helper: the cost of the kernel's own first-touch page faults
// on a fresh MAP_SHARED mapping of the region's backing, measured in C so
// that the figure has no JavaScript in it. The fault benchmarks compare the
// TypeScript fault handler against it in the same run.
#pragma once

#include <cstdint>

#include "region_core.h"

namespace daxfs {

struct FirstTouchResult {
  uint64_t touches = 0;  // pages touched (one load or store each)
  uint64_t ns = 0;       // time spent touching them
  uint64_t map_ns = 0;   // time of the mmap + munmap around them
  // A page the backing could not supply ended the touching (SIGBUS): the
  // region offset and si_code of the fault (fault_guard.h).
  bool faulted = false;
  uint64_t fault_offset = 0;
  int fault_code = 0;
};

// Maps [offset, offset + length) of the backing afresh, touches one byte
// every `stride` bytes (a load, or a store of the byte it holds), unmaps.
// Returns 0 or an errno from mmap; a fault of the backing stops the
// touching and is left in the result.
int MeasureFirstTouch(const RegionCore& core, uint64_t offset, uint64_t length, uint64_t stride,
                      bool write, FirstTouchResult* result);

}  // namespace daxfs
