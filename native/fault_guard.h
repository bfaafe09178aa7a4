// The safety net for SIGBUS. Region memory is a mapping of a file or a
// device: when the backing cannot supply a page — its file system is full
// (a store to an unallocated page of a sparse file), another program
// truncated it, or the media failed — the access raises SIGBUS, whose
// default action kills the process without a word.
//
// Native primitives run their accesses of region memory guarded: a SIGBUS
// inside the ranges a guard was armed for ends the guarded part early and the
// primitive throws a typed error (backing_fault.h). An access no call can
// report on — a plain store through a view or a mapping buffer — still ends
// the process by SIGBUS, as in the kernel, after one line on stderr naming
// what was hit (fault_sites.h). Any other SIGBUS goes to the handler that was
// installed before, or to the default action.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace daxfs {

// What a caught SIGBUS left: the faulting address and the signal's si_code
// (BUS_ADRERR for a page the backing cannot supply, BUS_MCEERR_AR/AO for a
// media error).
struct BusFault {
  uintptr_t address = 0;
  int code = 0;
};

// An address range a guarded operation may fault in; empty by default.
struct GuardRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;

  static GuardRange Of(const void* p, size_t length) {
    auto b = reinterpret_cast<uintptr_t>(p);
    return {b, b + length};
  }
  bool Contains(uintptr_t a) const { return a >= begin && a < end; }
};

// Installs the SIGBUS handler, once per process (later calls do nothing).
// The handler that was installed before is kept and chained to.
void InstallFaultGuard();

using GuardedBody = void (*)(void* context);

// Runs body(context) with SIGBUS on this thread at an address inside `a` or
// `b` turned into an early return: false, with *fault filled. True when the
// body ran to its end.
//
// The body is abandoned at the faulting access (siglongjmp): nothing with a
// destructor may be alive in it there, and it must leave no lock held and no
// structure half-changed across an access of those ranges. Plain loops,
// memcpy and flush instructions qualify; whatever must be allocated is
// allocated by the caller before.
bool RunGuarded(GuardRange a, GuardRange b, GuardedBody body, void* context, BusFault* fault);

// RunGuarded over a callable (a lambda), with the same rules.
template <typename F>
bool Guarded(GuardRange a, GuardRange b, BusFault* fault, F& body) {
  using Body = std::remove_reference_t<F>;
  return RunGuarded(a, b, [](void* context) { (*static_cast<Body*>(context))(); }, &body, fault);
}

// Testing: maps the first page of the file at `path` (an empty file) with a
// plain mmap, outside every region and mapping, and loads from it. The
// SIGBUS that follows is none of daxfs's: it goes where SIGBUS went before
// the handler was installed. Returns only on failure: the errno of open or
// mmap, or 0 when the load did not fault (the file was not empty).
int LoadPastEndOfFile(const char* path);

}  // namespace daxfs
