// The typed error a caught SIGBUS (fault_guard.h) becomes, and the guard the
// region primitives run their accesses under.
#pragma once

#include <napi.h>

#include <cstdint>

#include "fault_guard.h"
#include "region_core.h"

namespace daxfs {

// A fault in region `c`'s own memory, or in a buffer of the call (a view of
// another region, a mapping buffer): the error names the region whose
// backing failed and the offset of the page it could not supply. EIO for a
// file truncated under the region (the page lies at or past its new end) and
// for a media error; ENOSPC for a file system with no space to back the page.
[[noreturn]] void ThrowBusFault(Napi::Env env, const RegionCore& c, const BusFault& fault);

// The same for a fault at a known offset of `c` (firstTouch's own mapping).
[[noreturn]] void ThrowBackingFault(Napi::Env env, const RegionCore& c, uint64_t offset, int code);

// The whole of the region's mapping.
inline GuardRange RegionRange(const RegionCore& c) {
  return GuardRange::Of(c.mapped_, c.map_length);
}

// Runs `body` (fault_guard.h's rules) guarded over the region's memory and
// `user`; a fault in either becomes the error above.
template <typename F>
void GuardRegion(Napi::Env env, const RegionCore& c, GuardRange user, F&& body) {
  BusFault fault;
  if (!Guarded(RegionRange(c), user, &fault, body)) ThrowBusFault(env, c, fault);
}

}  // namespace daxfs
