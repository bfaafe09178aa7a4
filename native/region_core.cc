#include "region_core.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "fault_sites.h"
#include "page_state.h"

namespace daxfs {

const char* PersistenceName(Persistence mode) {
  switch (mode) {
    case Persistence::kCacheFlush: return "cache-flush";
    case Persistence::kMsync: return "msync";
    case Persistence::kVolatile: return "volatile";
  }
  return "msync";
}

RegionCore::~RegionCore() {
  inflight_ = 0;
  Release();
}

void RegionCore::Release() {
  base_.store(nullptr, std::memory_order_release);
  if (inflight_ > 0) {
    release_pending_ = true;
    return;
  }
  if (span) {
    // A copy by another region's asynchronous call may still be using a view
    // of this one as its buffer: it must finish before the pages go.
    WaitUnpinned(mapped_, map_length);
    RemoveFaultSite(mapped_);
    span->Close();
    span.reset();
    mapped_ = nullptr;
  }
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

void RegionCore::EndAsync() {
  if (--inflight_ == 0 && release_pending_) Release();
}

int RegionCore::Flush(uint64_t offset, uint64_t length, RegionStats& stats) {
  stats.flush_calls++;
  if (length == 0) return 0;
  if (trace) {
    trace->Flush(offset, length);
    // msync writes back and waits: a flush and a fence.
    if (mode == Persistence::kMsync) trace->Fence();
  }
  if (mode == Persistence::kMsync) {
    // msync needs a page-aligned start; widen the range down to it.
    uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    uint64_t start = offset & ~(page - 1);
    stats.msync_calls++;
    if (msync(mapped_ + start, length + (offset - start), MS_SYNC) != 0) return errno;
    return 0;
  }
  if (flush_needed) stats.flushed_lines += FlushRange(flush, mapped_ + offset, length);
  return 0;
}

void RegionCore::Drain(RegionStats& stats) {
  if (mode == Persistence::kMsync) return;
  if (trace) trace->Fence();
  StoreFence();
  stats.fences++;
}

int RegionCore::Persist(uint64_t offset, uint64_t length, RegionStats& stats) {
  stats.persist_calls++;
  int err = Flush(offset, length, stats);
  Drain(stats);
  return err;
}

}  // namespace daxfs
