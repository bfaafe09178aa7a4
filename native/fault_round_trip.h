// A benchmark helper: what the bare mechanisms a user-space fault handler
// could be built on cost per fault, measured in C (no JavaScript in the
// figure), on the region's own backing. Each maps `pages` pages of a fresh
// reserved range by touching each once (a load), the mechanism resolving
// the fault:
//  - uffd-map: a userfaultfd handler thread maps the backing's page over
//    the faulting one (mmap MAP_FIXED) and wakes the faulting thread;
//  - uffd-zeropage: the handler answers with UFFDIO_ZEROPAGE (a hole);
//  - signal-map: a SIGSEGV handler on the faulting thread maps the page
//    over the inaccessible one and returns (the handler is installed for
//    the measurement only, in front of whatever handled SIGSEGV before,
//    which still gets every fault outside the range).
// The fault benchmarks print these beside the kernel's own first touch.
#pragma once

#include <cstdint>

#include "region_core.h"

namespace daxfs {

enum class FaultMechanism { kUffdMap, kUffdZeroPage, kSignalMap };

struct RoundTripResult {
  uint64_t faults = 0;  // pages touched
  uint64_t ns = 0;      // time spent touching them (each one fault)
};

// 0, or an errno (with `failed` naming the call) when the mechanism is not
// available here or a call failed; nothing is left mapped or installed.
int MeasureFaultRoundTrip(const RegionCore& core, uint64_t offset, uint64_t pages, FaultMechanism how,
                          RoundTripResult* result, const char** failed);

}  // namespace daxfs
