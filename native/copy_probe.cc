#include "copy_probe.h"

#include <chrono>
#include <cstring>

#include "backing_fault.h"
#include "region_io.h"

namespace daxfs {

int64_t MeasureCopies(RegionCore& core, const double* offsets, uint64_t count, uint64_t length,
                      uint8_t* buffer, bool write, int* err, BusFault* fault) {
  using Clock = std::chrono::steady_clock;
  RegionStats scratch;  // the probe's copies stay out of the region's statistics
  // As write() does: a buffer inside a daxfs mapping goes through an aside.
  Aside aside(buffer, write ? length : 0);
  *err = 0;
  auto copies = [&] {
    for (uint64_t i = 0; i < count && *err == 0; i++) {
      auto offset = static_cast<uint64_t>(offsets[i]);
      if (write) {
        *err = CopyIn(core, scratch, offset, aside.Take(buffer, length), length, true);
      } else {
        std::memmove(buffer, core.base() + offset, length);
      }
    }
  };
  auto t0 = Clock::now();
  if (!Guarded(RegionRange(core), GuardRange::Of(buffer, length), fault, copies)) return kProbeFaulted;
  auto t1 = Clock::now();
  if (*err != 0) return -1;
  return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
}

}  // namespace daxfs
