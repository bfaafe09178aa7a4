#include "region_io.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backing_fault.h"
#include "errors.h"
#include "external_buffer.h"
#include "nt_store.h"
#include "page_state.h"

namespace daxfs {
namespace {

bool Overlaps(const uint8_t* a, uint64_t a_len, const uint8_t* b, uint64_t b_len) {
  return a < b + b_len && b < a + a_len;
}

// After a non-temporal copy or zero: the streamed body needs only the fence;
// the unaligned head and tail went through the cache and need flushing.
void PersistEdges(RegionCore& c, RegionStats& stats, uint8_t* to, uint64_t length, size_t head,
                  size_t tail, bool fence) {
  if (c.trace) {
    uint64_t offset = static_cast<uint64_t>(to - c.mapped_);
    c.trace->Flush(offset, head);
    c.trace->Flush(offset + length - tail, tail);
  }
  if (c.flush_needed) {
    stats.flushed_lines += FlushRange(c.flush, to, head);
    stats.flushed_lines += FlushRange(c.flush, to + length - tail, tail);
  }
  if (!fence) return;
  stats.persist_calls++;
  c.Drain(stats);
}

}  // namespace

// Copies `length` bytes from `from` to the region at `offset`: non-temporal
// stores above the threshold (where flushing is how data persists), ordinary
// ones below it or when the source overlaps the region. With `persist`, the
// bytes are durable on return. Returns 0 or the errno of a failed msync.
// Runs guarded: plain stores and flushes, nothing with a destructor. (The
// crash tracer copies the bytes just stored, whose pages are therefore backed.)
int CopyIn(RegionCore& c, RegionStats& stats, uint64_t offset, const uint8_t* from, uint64_t length,
           bool persist, bool fence) {
  stats.bytes_written += length;
  if (length == 0) return 0;
  // mapped_, not base(): an asynchronous copy keeps the mapping alive even
  // after close() made base() null.
  uint8_t* to = c.mapped_ + offset;
  if (length >= c.nt_threshold && c.mode != Persistence::kMsync &&
      !Overlaps(from, length, c.mapped_, c.size)) {
    size_t head = 0, tail = 0;
    NtCopy(to, from, length, &head, &tail);
    stats.nt_bytes += length - head - tail;
    c.TraceStore(offset, length);
    c.TraceStreamed(offset + head, length - head - tail);
    if (persist) PersistEdges(c, stats, to, length, head, tail, fence);
    return 0;
  }
  std::memmove(to, from, length);
  c.TraceStore(offset, length);
  if (!persist) return 0;
  return fence ? c.Persist(offset, length, stats) : c.Flush(offset, length, stats);
}

Aside::Aside(const void* p, uint64_t length) {
  if (length > 0 && InMapping(p, static_cast<size_t>(length))) bytes_.reset(new uint8_t[length]);
}

RegionCore& RequireOpen(Napi::Env env, RegionCore* core) {
  if (core == nullptr || !core->open()) ThrowCode(env, "EBADF", "the region is closed");
  return *core;
}

RegionCore& RequireWritable(Napi::Env env, RegionCore* core) {
  RegionCore& c = RequireOpen(env, core);
  if (c.read_only) ThrowCode(env, "EROFS", "the region is open read-only");
  return c;
}

void ThrowPersistErrno(Napi::Env env, const RegionCore& c, int err, const char* what) {
  if (err != 0) ThrowErrno(env, err, "msync", what, c.path);
}

uint64_t RegionRead(Napi::Env env, RegionCore& c, uint64_t offset, ByteSpan target,
                    uint64_t target_offset, uint64_t length) {
  CheckRange(env, target_offset, length, target.length, "targetOffset", "length", "target buffer");
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  std::string why;
  if (!CheckUserBuffer(target.data + target_offset, length, true, &why))
    ThrowCode(env, "EFAULT", "target: " + why);
  if (length == 0) return 0;
  uint8_t* into = target.data + target_offset;
  const uint8_t* from = c.base() + offset;
  Aside aside(into, length);
  GuardRegion(env, c, GuardRange::Of(into, length), [&] {
    // memmove: the target may be a view of this very region. A target inside
    // a daxfs mapping may show the source's blocks at another address: then
    // the bytes go through the aside.
    if (uint8_t* a = aside.get()) {
      std::memcpy(a, from, length);
      std::memcpy(into, a, length);
    } else {
      std::memmove(into, from, length);
    }
  });
  c.stats.bytes_read += length;
  return length;
}

uint64_t RegionWrite(Napi::Env env, RegionCore& c, uint64_t offset, ByteSpan source,
                     uint64_t source_offset, uint64_t length, bool persist, bool fence) {
  CheckRange(env, source_offset, length, source.length, "sourceOffset", "length", "source buffer");
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  const uint8_t* from = source.data + source_offset;
  std::string why;
  if (!CheckUserBuffer(from, length, false, &why)) ThrowCode(env, "EFAULT", "source: " + why);
  Aside aside(from, length);
  int err = 0;
  GuardRegion(env, c, GuardRange::Of(from, length), [&] {
    err = CopyIn(c, c.stats, offset, aside.Take(from, length), length, persist, fence);
  });
  ThrowPersistErrno(env, c, err, "persisting the written range");
  return length;
}

void RegionWriteScatter(Napi::Env env, RegionCore& c, ByteSpan source, const double* list,
                        uint64_t count, bool persist) {
  // Sources inside a daxfs mapping go through one aside as long as the
  // longest of them (see Aside); the common case allocates nothing.
  std::vector<uint8_t> through_aside;
  uint64_t aside_length = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t offset = CheckIndex(env, list[3 * i], "regionOffset");
    uint64_t from = CheckIndex(env, list[3 * i + 1], "sourceOffset");
    uint64_t length = CheckIndex(env, list[3 * i + 2], "length");
    CheckRange(env, from, length, source.length, "sourceOffset", "length", "source buffer");
    CheckRange(env, offset, length, c.size, "regionOffset", "length", "region");
    std::string why;
    if (!CheckUserBuffer(source.data + from, length, false, &why)) ThrowCode(env, "EFAULT", "source: " + why);
    if (length > 0 && InMapping(source.data + from, static_cast<size_t>(length))) {
      if (through_aside.empty()) through_aside.assign(static_cast<size_t>(count), 0);
      through_aside[static_cast<size_t>(i)] = 1;
      aside_length = std::max(aside_length, length);
    }
  }
  std::unique_ptr<uint8_t[]> aside(aside_length > 0 ? new uint8_t[aside_length] : nullptr);
  const uint8_t* flags = through_aside.empty() ? nullptr : through_aside.data();
  int err = 0;
  GuardRegion(env, c, GuardRange::Of(source.data, source.length), [&] {
    for (uint64_t i = 0; i < count; i++) {
      auto offset = static_cast<uint64_t>(list[3 * i]);
      const uint8_t* from = source.data + static_cast<uint64_t>(list[3 * i + 1]);
      auto length = static_cast<uint64_t>(list[3 * i + 2]);
      if (flags != nullptr && flags[i] != 0) {
        std::memcpy(aside.get(), from, length);
        from = aside.get();
      }
      CopyIn(c, c.stats, offset, from, length, false);
    }
    if (!persist) return;  // a private copy: its stores have nowhere to go
    for (uint64_t i = 0; i < count && err == 0; i++)
      err = c.Flush(static_cast<uint64_t>(list[3 * i]), static_cast<uint64_t>(list[3 * i + 2]));
    if (err == 0) c.Drain();
  });
  ThrowPersistErrno(env, c, err, "persisting a scattered write");
}

void RegionZero(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length, bool persist) {
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  if (length == 0) return;
  uint8_t* to = c.base() + offset;
  int err = 0;
  GuardRegion(env, c, GuardRange{}, [&] {
    c.stats.bytes_written += length;
    if (length >= c.nt_threshold && c.mode != Persistence::kMsync) {
      size_t head = 0, tail = 0;
      NtZero(to, length, &head, &tail);
      c.stats.nt_bytes += length - head - tail;
      c.TraceStore(offset, length);
      c.TraceStreamed(offset + head, length - head - tail);
      if (persist) PersistEdges(c, c.stats, to, length, head, tail, true);
      return;
    }
    std::memset(to, 0, length);
    c.TraceStore(offset, length);
    if (persist) err = c.Persist(offset, length);
  });
  ThrowPersistErrno(env, c, err, "persisting the range");
}

void RegionPersist(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length) {
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  // Nothing in a read-only region can have been stored: nothing to persist.
  if (c.read_only) return;
  int err = 0;
  GuardRegion(env, c, GuardRange{}, [&] { err = c.Persist(offset, length); });
  ThrowPersistErrno(env, c, err, "persisting the range");
}

void RegionFlush(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length) {
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  if (c.read_only) return;
  int err = 0;
  GuardRegion(env, c, GuardRange{}, [&] { err = c.Flush(offset, length); });
  ThrowPersistErrno(env, c, err, "flushing the range");
}

void RegionStore64(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t value) {
  CheckAligned(env, offset, 8, "offset");
  CheckRange(env, offset, 8, c.size, "offset", "length", "region");
  auto* word = reinterpret_cast<uint64_t*>(c.base() + offset);
  int err = 0;
  GuardRegion(env, c, GuardRange{}, [&] {
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
    c.stats.bytes_written += 8;
    c.TraceStore(offset, 8);
    err = c.Persist(offset, 8);
  });
  ThrowPersistErrno(env, c, err, "persisting the range");
}

uint64_t* BitmapWords(Napi::Env env, RegionCore& core, uint64_t offset, uint64_t nbits) {
  if (nbits == 0) ThrowCode(env, "EINVAL", "nbits must be at least 1");
  CheckAligned(env, offset, 8, "bitmapOffset");
  uint64_t bytes = (nbits + 63) / 64 * 8;
  CheckRange(env, offset, bytes, core.size, "bitmapOffset", "bitmap bytes", "region");
  return reinterpret_cast<uint64_t*>(core.base() + offset);
}

FreeRun RegionBitmapFind(Napi::Env env, RegionCore& c, uint64_t bitmap_offset, uint64_t nbits,
                         uint64_t goal, uint64_t want, uint64_t min_run) {
  const uint64_t* words = BitmapWords(env, c, bitmap_offset, nbits);
  if (goal >= nbits)
    ThrowCode(env, "EINVAL", "goal " + std::to_string(goal) + " must be below nbits " + std::to_string(nbits));
  if (want == 0) ThrowCode(env, "EINVAL", "want must be at least 1");
  if (min_run == 0 || min_run > want)
    ThrowCode(env, "EINVAL", "minRun must be between 1 and want (" + std::to_string(want) + "), got " +
                                 std::to_string(min_run));
  FreeRun run;
  GuardRegion(env, c, GuardRange{}, [&] { run = FindFreeRun(words, nbits, goal, want, min_run); });
  return run;
}

void CheckViewRange(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length) {
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  if (!c.views_safe)
    ThrowCode(env, "EROFS", "views of a read-only device-dax region are not available: use read()");
  // One view lies inside one window (external_buffer.h): at most the whole
  // region when it fits one ArrayBuffer, else half the engine's limit.
  uint64_t most = c.longest_view;
  if (length > most)
    ThrowCode(env, "ERANGE", "length " + std::to_string(length) +
                                 " is larger than one view may be (" + std::to_string(most) + " bytes)");
}

}  // namespace daxfs
