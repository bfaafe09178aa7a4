// Whether this kernel backs read faults on private anonymous memory with its
// shared zero page or gives each page memory of its own: measured once per
// process (map a few MiB read-only, load every page, read the VMA's Rss from
// /proc/self/smaps, unmap). The capability report shows it; daxfs shows holes
// through its own zero source either way.
#pragma once

#include <cstdint>

namespace daxfs {

struct AnonProbe {
  uint64_t bytes = 0;         // probed (0 when the probe could not run)
  uint64_t rss_kib = 0;       // resident after loading every page
  uint64_t private_kib = 0;   // of which private to this process
  int err = 0;                // errno when the probe could not run
};

// The measurement, made on the first call (thread-safe).
const AnonProbe& ProbeAnonymousReads();

}  // namespace daxfs
