// The mapped backing of a region, shared (by reference count) between the JS
// Region object, the external ArrayBuffer over it and every MMU mapping made
// from it, so that no JS-reachable memory is unmapped while still in use.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "address_span.h"
#include "cpu_persist.h"
#include "persist_trace.h"

namespace daxfs {

struct Reservation;
struct FaultReserve;

// How stores become durable in this region.
enum class Persistence {
  kCacheFlush,  // pmem with MAP_SYNC or device-dax: flush cache lines + fence
  kMsync,       // page-cache backed file: msync(MS_SYNC) writes pages back
  kVolatile,    // emulated pmem in RAM (tmpfs): flush + fence, lost on power loss
};

const char* PersistenceName(Persistence mode);

struct RegionStats {
  RegionStats& operator+=(const RegionStats& o) {
    persist_calls += o.persist_calls;
    flush_calls += o.flush_calls;
    flushed_lines += o.flushed_lines;
    fences += o.fences;
    msync_calls += o.msync_calls;
    nt_bytes += o.nt_bytes;
    bytes_written += o.bytes_written;
    bytes_read += o.bytes_read;
    return *this;
  }

  uint64_t persist_calls = 0;
  uint64_t flush_calls = 0;
  uint64_t flushed_lines = 0;
  uint64_t fences = 0;
  uint64_t msync_calls = 0;
  uint64_t nt_bytes = 0;
  uint64_t bytes_written = 0;
  uint64_t bytes_read = 0;
};

class RegionCore {
 public:
  RegionCore() = default;
  RegionCore(const RegionCore&) = delete;
  RegionCore& operator=(const RegionCore&) = delete;
  ~RegionCore();

  // Makes [offset, offset + length) durable the way this region's mode needs.
  // The range must already be checked. Returns 0, or the errno of a failed
  // msync (the data is then not known to be durable).
  // The counters go to `stats`: the region's own on the main thread, a
  // private tally on a worker thread (merged when the work completes).
  int Persist(uint64_t offset, uint64_t length, RegionStats& stats);
  int Persist(uint64_t offset, uint64_t length) { return Persist(offset, length, stats); }
  // The two halves of Persist in cache-flush modes. In msync mode Flush
  // writes the pages back synchronously and Drain has nothing left to do.
  int Flush(uint64_t offset, uint64_t length, RegionStats& stats);
  int Flush(uint64_t offset, uint64_t length) { return Flush(offset, length, stats); }
  void Drain(RegionStats& stats);
  void Drain() { Drain(stats); }

  // Closes the region to new operations; lets go of the backing (its
  // address span is closed, see address_span.h, and the descriptor too)
  // now, or when the last in-flight asynchronous copy finishes. Idempotent.
  void Release();
  // Asynchronous copies running on the thread pool hold the mapping.
  void BeginAsync() { inflight_++; }
  void EndAsync();
  bool open() const { return base_.load(std::memory_order_acquire) != nullptr; }
  uint8_t* base() const { return base_.load(std::memory_order_relaxed); }

  // Set once by OpenRegion; base_ becomes null at Release, mapped_ when the
  // backing is let go.
  std::atomic<uint8_t*> base_{nullptr};
  uint8_t* mapped_ = nullptr;
  // The mapping's address range, shared with every buffer over it; the
  // region's own reference is dropped when the backing is let go.
  std::shared_ptr<AddressSpan> span;
  int inflight_ = 0;  // main thread only
  bool release_pending_ = false;
  size_t map_length = 0;  // bytes mapped (== size)
  uint64_t size = 0;
  int fd = -1;
  bool read_only = false;
  // A read-only open mapped MAP_PRIVATE: stores reach only this process's
  // copy-on-write pages, never the backing.
  bool private_copy = false;
  bool map_sync = false;
  int map_sync_errno = 0;  // why MAP_SYNC was refused, 0 when granted or not tried
  bool devdax = false;
  dev_t st_dev = 0;
  ino_t st_ino = 0;
  uint64_t fs_magic = 0;
  Persistence mode = Persistence::kMsync;
  FlushKind flush = FlushKind::kNone;
  bool flush_needed = true;  // false on eADR platforms: caches are persistent
  std::string flush_note;
  std::string persistence_domain;  // from sysfs: cpu_cache, memory_controller or ""
  uint64_t align = 4096;
  uint64_t nt_threshold = 256;
  bool views_safe = true;  // false where stores through a view would fault
  uint64_t longest_view = 0;  // one view lies in one buffer (external_buffer.h)
  std::string path;
  RegionStats stats;
  // Live MMU mappings of this region, released when the region is closed.
  std::vector<Reservation*> mappings;
  // Blocks granted to the fault service and its adoption log
  // (fault_service.h); made by the first grant, changed under its lock.
  std::shared_ptr<FaultReserve> fault_reserve;

  // The crash simulator's recorder (persist_trace.h); null unless started.
  // Every primitive that stores to the region calls TraceStore after the
  // store; Flush and Drain record themselves.
  std::unique_ptr<PersistTrace> trace;
  void TraceStore(uint64_t offset, uint64_t length) {
    if (trace) trace->Store(offset, mapped_ + offset, length);
  }
  // The bytes of a non-temporal store bypass the cache: like flushed lines,
  // they are durable at the next fence.
  void TraceStreamed(uint64_t offset, uint64_t length) {
    if (trace) trace->Flush(offset, length);
  }
};

}  // namespace daxfs
