// The data path of a region: copy in and out, zero, flush and persist, each
// checking its (already parsed) offsets and lengths. Shared by the Region
// methods and by the fast-call entry points.
#pragma once

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "args.h"
#include "bitmap.h"
#include "region_core.h"

namespace daxfs {

// The core if it is open (EBADF otherwise), and writable (EROFS otherwise).
RegionCore& RequireOpen(Napi::Env env, RegionCore* core);
RegionCore& RequireWritable(Napi::Env env, RegionCore* core);

// Throws the error of a failed msync (`err`, 0 for none) while `what`.
void ThrowPersistErrno(Napi::Env env, const RegionCore& c, int err, const char* what);

// Copies without checks: non-temporal stores above the threshold. Returns 0
// or the errno of a failed msync. To be run guarded (backing_fault.h), with a
// source that is not in a daxfs mapping (see Aside). The benchmark's native
// loop and the asynchronous copies (with their own `stats`) use it too.
// With `persist` and not `fence`, the bytes are written back (flushed, or
// streamed) but not fenced: durable at this thread's next fence.
int CopyIn(RegionCore& c, RegionStats& stats, uint64_t offset, const uint8_t* from,
           uint64_t length, bool persist, bool fence = true);

// A buffer of a call that lies in a daxfs mapping may show the region's own
// blocks at another address: its bytes go through memory of their own, so
// that a copy has memmove's meaning whatever the aliasing. The memory is
// allocated here, before the guard is armed; nothing for other buffers.
class Aside {
 public:
  Aside(const void* p, uint64_t length);
  uint8_t* get() const { return bytes_.get(); }
  // The source to copy into the region: `from` itself, or its bytes copied
  // into the aside (inside the guard: reading them may fault).
  const uint8_t* Take(const uint8_t* from, uint64_t length) const {
    if (!bytes_) return from;
    std::memcpy(bytes_.get(), from, static_cast<size_t>(length));
    return bytes_.get();
  }

 private:
  std::unique_ptr<uint8_t[]> bytes_;
};

uint64_t RegionRead(Napi::Env env, RegionCore& c, uint64_t offset, ByteSpan target,
                    uint64_t target_offset, uint64_t length);
uint64_t RegionWrite(Napi::Env env, RegionCore& c, uint64_t offset, ByteSpan source,
                     uint64_t source_offset, uint64_t length, bool persist, bool fence = true);
// Copies `count` ranges of `source` into the region, then persists them all
// with one barrier (one fence, or msync per range in msync mode). `list`
// holds (regionOffset, sourceOffset, length) triples; every triple is
// checked before the first byte is copied.
// persist false: no flush (a private copy's stores have nowhere to go).
void RegionWriteScatter(Napi::Env env, RegionCore& c, ByteSpan source, const double* list,
                        uint64_t count, bool persist);
void RegionZero(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length, bool persist);
void RegionPersist(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length);
void RegionFlush(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length);
// Atomic 8-byte store at an 8-byte aligned offset, durable on return.
void RegionStore64(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t value);

// The words of the bitmap of `nbits` bits at `offset` (8-byte aligned, inside the region).
uint64_t* BitmapWords(Napi::Env env, RegionCore& core, uint64_t offset, uint64_t nbits);
// Checked FindFreeRun over that bitmap.
FreeRun RegionBitmapFind(Napi::Env env, RegionCore& c, uint64_t bitmap_offset, uint64_t nbits,
                         uint64_t goal, uint64_t want, uint64_t min_run);

// Whether a zero-copy view of the range may be handed out.
void CheckViewRange(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length);

}  // namespace daxfs
