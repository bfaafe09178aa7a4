// Transparent faults: a plain load or store through a mapping's buffer on a
// page the mapping does not show yet is served from the SIGSEGV handler, on
// the thread that took the fault, with nothing but what the TypeScript layer
// published ahead of time — the user-space twin of the kernel's DAX fault
// path, without running JavaScript (the thread stopped in the access may be
// the JavaScript thread itself).
//
// What the TypeScript layer publishes, and this file only executes:
//   - per mapping, what every page resolves to (`targets`, one double per
//     page): a written pool block (>= 0), a hole (-1), or an unwritten block
//     b (-(b + 2)); with the mapping's file (its group), first file block,
//     kind (shared / private, writable) and fault-around window;
//   - per region, a grant: runs of free pool blocks the handler may take for
//     stores into holes. Nothing about a grant is on media: a block taken
//     and not yet adopted is free in the bitmap, so a crash frees it.
//
// The rules (those of lib/map/fault.ts):
//   load,  written block        → the block, read-only (with fault-around)
//   load,  hole or unwritten    → the zero source (with fault-around)
//   store, shared, read-only block page → made writable
//   store, shared, written      → the block, writable
//   store, shared, hole         → a granted block, zeroed (non-temporal +
//                                 fence), writable; every mapping of the file
//                                 showing zeros there switches to it
//   store, shared, unwritten    → its block zeroed, then as above
//   store, private              → a private copy of the block (or zeros)
//   wholly past EOF             → not served: SIGBUS (fault_sites.h)
//   store, read-only mapping    → not served: SIGSEGV
// Each fill and conversion is logged for the TypeScript layer to adopt into
// the file's block map (one transaction per file); the region's wake handle
// is signalled (uv_async_send, async-signal-safe) so adoption follows on the
// next turn of the event loop even when no call on the pool comes first.
//
// One process-wide lock (a spin lock: the handler cannot sleep) orders the
// handler against the main thread's MMU operations and against the grant
// and log calls. Nothing holds it across an access to mapping memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace daxfs {

struct Reservation;
class RegionCore;

// The process-wide fault-service lock.
class FaultServiceLock {
 public:
  FaultServiceLock();
  ~FaultServiceLock();
  FaultServiceLock(const FaultServiceLock&) = delete;
  FaultServiceLock& operator=(const FaultServiceLock&) = delete;
};

// What a mapping's transparent faults are served from (mmu.h holds one per
// reservation). Off until the TypeScript layer publishes it.
struct TransparentTable {
  bool on = false;
  bool shared = true;
  bool writable = false;
  uint32_t group = 0;        // the file (its inode number): mappings switched together
  uint64_t first_block = 0;  // file block of page 0
  uint64_t around = 0;       // fault-around window in pages; 0: the whole run
  // Pages showing nothing are registered with userfaultfd (uffd_service.h),
  // not inaccessible.
  bool uffd = false;
  std::vector<double> targets;
  // Served by the handler, for statistics.
  uint64_t reads = 0, writes = 0, fills = 0, converts = 0, copies = 0;
};

// A block the handler filled a hole with, or an unwritten block it
// converted, waiting for the TypeScript layer to adopt it.
struct Adoption {
  double group = 0;
  double file_block = 0;
  double pool_block = 0;
  double kind = 0;  // 0: fill (the block was granted), 1: conversion
};

// A file whose layout the TypeScript layer is changing (the kernel's
// invalidate lock, taken exclusive): faults on its mappings wait, on every
// thread but the holder's, until it is released.
struct GroupHold {
  uint32_t group = 0;
  uint32_t count = 0;  // nested holds; 0: a free slot
  long thread = 0;     // the holder's thread id
};

// Per region: the grant, the adoption log, the holds and the wake-up.
struct FaultReserve {
  static constexpr size_t kHolds = 64;
  GroupHold holds[kHolds];
  // Whether `group` is held by a thread other than `thread`.
  bool HeldElsewhere(uint32_t group, long thread) const;
  std::vector<uint64_t> run_start, run_length;  // granted runs, taken in order
  size_t run = 0;          // the run blocks are taken from
  uint64_t taken_in_run = 0;
  std::vector<Adoption> log;  // capacity fixed by the grant call
  size_t logged = 0;
  // Shared with the TypeScript layer (an external Uint32Array): [0] entries
  // logged and not yet taken, [1] granted blocks left, [2] unused, [3] the
  // low-water mark (set by the TypeScript layer): a fill that leaves fewer
  // granted blocks wakes it to refill.
  uint32_t counters[4] = {0, 0, 0, 0};
  void* wake = nullptr;  // a uv_async_t, or null
  uint64_t Left() const;
};

enum class ServeResult {
  kNotOurs,     // no transparent mapping's address
  kServed,      // the access can be retried
  kBadAccess,   // a store into a read-only mapping: SIGSEGV
  kNotServed,   // a mapping that serves no faults (a bare MMU mapping): SIGSEGV
  kPastEnd,     // wholly past EOF: SIGBUS
  kNoReserve,   // a store into a hole with no granted block (or no log room) left
  kNoZeroVma,   // the zero source's VMA limit is reached
  kFailed,      // a system call failed (errno in *err)
  kWait,        // the file's layout is being changed by another thread: try again
};

// Serves a fault at `address` (a store when `write`; `write_known` false
// where the CPU does not say, and a fault on a page already readable is then
// taken for a store). Async-signal-safe as far as this engine's own state
// goes: system calls, fixed tables, the lock.
// `from_uffd`: reported by userfaultfd (uffd_service.h), whose unserved
// pages are made inaccessible so the retry fails as without the service.
ServeResult ServeFault(uintptr_t address, bool write, bool write_known, int* err, bool from_uffd);

// ServeFault until it is not kWait (yielding between tries, the lock released).
ServeResult ServeFaultWaiting(uintptr_t address, bool write, bool write_known, int* err);

// Faults waiting for a hold to end, process-wide (FaultWaiting). A thread
// about to take its first hold lets them through first: a layout change
// repeated in a loop would otherwise starve every other thread's fault on
// the file (a hold is released only for moments between changes).
void AddWaitingFault(int delta);
bool FaultsWaiting();
// Called before a thread takes a hold while holding none: yields until no
// fault is waiting.
void LetWaitingFaultsThrough();
// A hold was released: wakes whoever serves waiting faults (uffd_service.h).
void HoldReleased();

// Sets the targets of units [first, first + count) of `r` from runs of file
// blocks (fileBlock, length, poolBlock (-1: hole), unwritten, four doubles
// each), under the lock; fills logged and not adopted yet keep their blocks.
void Retarget(Reservation& r, size_t first, size_t count, const double* runs, size_t nruns);

// This thread's id (async-signal-safe).
long ThreadId();

// Writes the one line before the process ends for a fault that could not be
// served (kNoReserve, kNoZeroVma, kFailed).
void ReportUnserved(uintptr_t address, bool store, ServeResult why, int err);

}  // namespace daxfs
