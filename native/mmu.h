// MMU primitives: a reserved virtual range whose pages the fault handler (in
// TypeScript) points at region blocks, the zero page or private copies, one
// run at a time. Native code does exactly what it is told and keeps a page
// state table; it never decides what a page should show.
#pragma once

#include <napi.h>

#include <memory>

#include "external_buffer.h"
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

  ~Reservation();
  // Whether every page of the run is none or zero (private anonymous memory
  // that was never writable).
  bool AnonymousRun(uint64_t offset, uint64_t length) const;
  // Detaches the buffer, forgets the page states and closes the span
  // (unmapped, or reserved and inaccessible while a buffer that escaped the
  // detach exists); idempotent.
  void Release();
};

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

  // Checks (offset, length) at `index` against the mapping; returns the open reservation.
  Reservation& CheckRun(const Napi::CallbackInfo& info, size_t index, uint64_t* offset,
                        uint64_t* length);
  Reservation& Open(Napi::Env env);
  // One mmap (MAP_FIXED) over a checked run, recording its new state; on
  // failure the run is made inaccessible and the error thrown.
  void* MapRun(Napi::Env env, Reservation& r, uint64_t offset, uint64_t length, int prot, int flags,
               int fd, off_t file_offset, PageState state, const char* what);
  // Switches an anonymous run between none and zero with mprotect.
  void ProtectAnonymous(Napi::Env env, Reservation& r, uint64_t offset, uint64_t length, int prot,
                        PageState state, const char* what);
  // Re-establishes a safe state after a failed MAP_FIXED and throws.
  [[noreturn]] void FailMap(Napi::Env env, Reservation& r, uint64_t offset, uint64_t length,
                            int err, const char* what);

  std::shared_ptr<Reservation> res_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;  // strong: the mapping's buffer
};

}  // namespace daxfs
