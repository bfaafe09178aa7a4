#include "first_touch.h"

#include <sys/mman.h>

#include <cerrno>
#include <chrono>

#include "fault_guard.h"

namespace daxfs {

int MeasureFirstTouch(const RegionCore& core, uint64_t offset, uint64_t length, uint64_t stride,
                      bool write, FirstTouchResult* result) {
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  int prot = PROT_READ | (write ? PROT_WRITE : 0);
  void* p = mmap(nullptr, static_cast<size_t>(length), prot, MAP_SHARED, core.fd,
                 static_cast<off_t>(offset));
  if (p == MAP_FAILED) return errno;
  auto* bytes = static_cast<volatile uint8_t*>(p);
  auto t1 = Clock::now();
  uint64_t touches = 0;
  auto touch = [&] {
    for (uint64_t at = 0; at < length; at += stride) {
      if (write) {
        bytes[at] = bytes[at];
      } else {
        (void)bytes[at];
      }
      touches++;
    }
  };
  BusFault fault;
  if (!Guarded(GuardRange::Of(p, static_cast<size_t>(length)), GuardRange{}, &fault, touch)) {
    result->faulted = true;
    result->fault_offset = offset + (fault.address - reinterpret_cast<uintptr_t>(p));
    result->fault_code = fault.code;
  }
  auto t2 = Clock::now();
  munmap(p, static_cast<size_t>(length));
  auto t3 = Clock::now();
  auto ns = [](Clock::duration d) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  };
  result->touches = touches;
  result->ns = ns(t2 - t1);
  result->map_ns = ns(t1 - t0) + ns(t3 - t2);
  return 0;
}

}  // namespace daxfs
