// MMU primitives: a reserved virtual range whose pages the fault handler (in
// TypeScript) points at region blocks, the zero source (zero_source.h) or
// private copies, one run at a time. Native code does exactly what it is told and keeps a page
// state table; it never decides what a page should show.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "external_buffer.h"
#include "fault_service.h"
#include "page_state.h"
#include "region_core.h"

namespace daxfs {

struct MmuStats {
  uint64_t map_blocks = 0;
  uint64_t map_zero = 0;
  uint64_t map_private = 0;
  uint64_t protect = 0;
  uint64_t unmap = 0;
  uint64_t syscalls = 0;
  uint64_t bytes_copied = 0;
  uint64_t zero_pieces = 0;  // zero-source VMAs the mapping holds now
};

// The reserved range. Shared between the Mapping object and its ArrayBuffer,
// so that the pages a reachable buffer shows stay as they are until the
// mapping is released; the address span outlives even that while a buffer
// over it exists (address_span.h).
struct Reservation {
  std::shared_ptr<RegionCore> region;  // null once released
  std::shared_ptr<AddressSpan> span;   // null once released
  MappedRange range;
  // Weak: lets Release detach the buffer if it is still alive, without the
  // buffer (which owns a reference to this reservation) being kept alive.
  OwnedBuffer buffer;
  MmuStats stats;
  bool released = false;
  // The pool block each unit shows in a block state, -1 otherwise; shared
  // with the TypeScript page table (tables()), as are the states.
  std::vector<double> blocks;
  // What transparent faults are served from (fault_service.h).
  TransparentTable tp;

  ~Reservation();
  // Per unit: the zero source is mapped there (readable in the zero state,
  // inaccessible in the none state); see mmu_zero.cc.
  std::vector<uint8_t> zero_backed;

  // Records the run's new state and backing, keeping the zero-source piece
  // counts (this mapping's and the process's) true.
  void Record(uint64_t offset, uint64_t length, PageState state, bool backed);
  // A unit's zero-source class (0: not the source, 1: readable, 2: inaccessible).
  uint8_t ZeroClass(size_t unit) const {
    return zero_backed[unit] == 0 ? 0 : range.states[unit] == PageState::kZero ? 1 : 2;
  }
  bool AllBacked(size_t first, size_t count) const;
  // Makes a run show nothing: registered for missing faults where the
  // mapping's faults go through userfaultfd, else inaccessible. 0 or errno.
  int ShowNothing(uint64_t offset, uint64_t length);
  bool AllState(size_t first, size_t count, PageState state) const;
  // Detaches the buffer, forgets the page states and closes the span
  // (unmapped, or reserved and inaccessible while a buffer that escaped the
  // detach exists); idempotent.
  void Release();
};

// A failed mmap or mprotect; an ENOMEM says how close the process is to its
// limit of VMAs, the usual reason for it on an address range already reserved.
[[noreturn]] void ThrowMapErrno(Napi::Env env, int err, const char* syscall, const std::string& what);

// What every MMU operation returns: the system calls it made (counted from
// `before`, the reservation's count when it started).
inline Napi::Value CallsSince(Napi::Env env, const Reservation& r, uint64_t before) {
  return Napi::Number::New(env, static_cast<double>(r.stats.syscalls - before));
}

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Mapping(const Napi::CallbackInfo& info);

 private:
  Napi::Value MapBlocks(const Napi::CallbackInfo& info);
  Napi::Value MapZero(const Napi::CallbackInfo& info);
  Napi::Value MapPrivate(const Napi::CallbackInfo& info);
  Napi::Value Protect(const Napi::CallbackInfo& info);
  Napi::Value Unmap(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value States(const Napi::CallbackInfo& info);
  Napi::Value KernelView(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value SetLabel(const Napi::CallbackInfo& info);
  Napi::Value SetEndOfFile(const Napi::CallbackInfo& info);
  Napi::Value Tables(const Napi::CallbackInfo& info);
  Napi::Value Publish(const Napi::CallbackInfo& info);
  Napi::Value RetargetJs(const Napi::CallbackInfo& info);
  Napi::Value ServedStats(const Napi::CallbackInfo& info);

  // Checks (offset, length) at `index` against the mapping; returns the open reservation.
  Reservation& CheckRun(const Napi::CallbackInfo& info, size_t index, uint64_t* offset,
                        uint64_t* length);
  Reservation& Open(Napi::Env env);
  // One mmap (MAP_FIXED) over a checked run, recording its new state; on
  // failure the run is made inaccessible and the error thrown.
  void* MapRun(Napi::Env env, Reservation& r, uint64_t offset, uint64_t length, int prot, int flags,
               int fd, off_t file_offset, PageState state, const char* what);
  // Re-establishes a safe state after a failed MAP_FIXED and throws.
  [[noreturn]] void FailMap(Napi::Env env, Reservation& r, uint64_t offset, uint64_t length,
                            int err, const char* what);

  std::shared_ptr<Reservation> res_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;  // strong: the mapping's buffer
};

}  // namespace daxfs
