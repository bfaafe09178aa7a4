#include "copy_probe.h"

#include <chrono>
#include <cstring>

#include "region_io.h"

namespace daxfs {

int64_t MeasureCopies(RegionCore& core, const double* offsets, uint64_t count, uint64_t length,
                      uint8_t* buffer, bool write, int* err) {
  using Clock = std::chrono::steady_clock;
  RegionStats scratch;  // the probe's copies stay out of the region's statistics
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < count; i++) {
    auto offset = static_cast<uint64_t>(offsets[i]);
    if (write) {
      *err = CopyIn(core, scratch, offset, buffer, length, true);
      if (*err != 0) return -1;
    } else {
      std::memmove(buffer, core.base() + offset, length);
    }
  }
  auto t1 = Clock::now();
  return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
}

}  // namespace daxfs
