#include "fault_service.h"

#include <sched.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cpu_persist.h"
#include "fault_sites.h"
#include "mmu.h"
#include "nt_store.h"
#include "region_core.h"
#include "vm.h"
#include "zero_source.h"

namespace daxfs {
namespace {

std::atomic_flag service_lock = ATOMIC_FLAG_INIT;

// Set while this thread serves a fault: a fault inside the service (a bug)
// must not wait for the lock this very thread holds.
__attribute__((tls_model("initial-exec"))) thread_local volatile sig_atomic_t serving = 0;

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// Fills the page tables of a run just mapped, as the kernel's own
// MADV_POPULATE_* does: one call for the whole run instead of a kernel fault
// per fault-around window when the access is retried and the pages beyond
// are touched. Best effort: a kernel without it (before 5.14) faults them
// in on access, as it would anyway.
void Populate(void* addr, size_t length, bool write) {
  int saved = errno;
  madvise(addr, length, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  errno = saved;
}

bool IsUnwritten(double target) { return target <= -2; }
uint64_t UnwrittenBlock(double target) { return static_cast<uint64_t>(-target - 2); }

uint8_t* At(const Reservation& r, size_t unit_index) {
  return reinterpret_cast<uint8_t*>(r.range.start + unit_index * r.range.unit);
}

int BlockFlags(const RegionCore& c) { return c.map_sync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED; }

// Points units [first, first + count) at pool blocks from `block`.
bool MapBlockRun(Reservation& r, size_t first, size_t count, uint64_t block, bool writable, int* err) {
  const RegionCore& c = *r.region;
  size_t unit = r.range.unit;
  void* p = mmap(At(r, first), count * unit, PROT_READ | (writable ? PROT_WRITE : 0),
                 BlockFlags(c) | MAP_FIXED, c.fd, static_cast<off_t>(block * unit));
  if (p == MAP_FAILED) {
    *err = errno;
    if (r.ShowNothing(first * unit, count * unit) == 0) r.Record(first * unit, count * unit, PageState::kNone, false);
    return false;
  }
  r.Record(first * unit, count * unit, writable ? PageState::kBlockWrite : PageState::kBlockRead, false);
  for (size_t i = 0; i < count; i++) r.blocks[first + i] = static_cast<double>(block + i);
  Populate(p, count * unit, writable);
  return true;
}

// Shows the zero source over units [first, first + count) (all none), one
// system call per 2 MiB window piece.
ServeResult MapZeroRun(Reservation& r, size_t first, size_t count, int* err) {
  const ZeroSource& z = GetZeroSource();
  if (z.fd < 0) {
    *err = z.err;
    return ServeResult::kFailed;
  }
  size_t unit = r.range.unit;
  uintptr_t lo = r.range.start + first * unit, hi = lo + count * unit;
  for (uintptr_t a = lo; a < hi;) {
    uintptr_t b = std::min<uintptr_t>(hi, (a / kZeroWindow + 1) * kZeroWindow);
    if (b - a < unit) b = a + unit;  // units larger than a window: one unit at a time
    size_t f = (a - r.range.start) / unit, n = (b - a) / unit;
    bool backed = r.AllBacked(f, n);
    if (!backed && ZeroPieces() + 1 > ZeroPieceLimit()) return ServeResult::kNoZeroVma;
    int rc;
    if (backed) {
      rc = mprotect(reinterpret_cast<void*>(a), b - a, PROT_READ);
    } else {
      void* p = mmap(reinterpret_cast<void*>(a), b - a, PROT_READ, MAP_SHARED | MAP_FIXED, z.fd,
                     static_cast<off_t>(a % kZeroWindow));
      rc = p == MAP_FAILED ? -1 : 0;
    }
    if (rc != 0) {
      *err = errno;
      // A failed MAP_FIXED may have removed what was there: showing nothing is true again.
      if (!backed && r.ShowNothing(a - r.range.start, b - a) == 0) r.Record(a - r.range.start, b - a, PageState::kNone, false);
      return ServeResult::kFailed;
    }
    r.Record(a - r.range.start, b - a, PageState::kZero, true);
    Populate(reinterpret_cast<void*>(a), b - a, false);
    a = b;
  }
  return ServeResult::kServed;
}

// A load on a page showing nothing: the run it belongs to (same extent or
// same hole, pages showing nothing, inside EOF and the fault-around window)
// is mapped at once.
ServeResult ServeRead(Reservation& r, size_t u, size_t eof_units, int* err) {
  TransparentTable& t = r.tp;
  size_t n = std::min(r.range.states.size(), eof_units);
  size_t lo = 0, hi = n;
  if (t.around != 0) {
    lo = u - u % t.around;
    hi = std::min<size_t>(n, lo + t.around);
  }
  double target = t.targets[u];
  auto joins = [&](size_t i) {
    if (r.range.states[i] != PageState::kNone) return false;
    double x = t.targets[i];
    if (target >= 0) return x == target + (static_cast<double>(i) - static_cast<double>(u));
    return x < 0;
  };
  size_t a = u, b = u + 1;
  while (a > lo && joins(a - 1)) a--;
  while (b < hi && joins(b)) b++;
  t.reads++;
  if (target >= 0)
    return MapBlockRun(r, a, b - a, static_cast<uint64_t>(target) - (u - a), false, err)
               ? ServeResult::kServed
               : ServeResult::kFailed;
  ServeResult res = MapZeroRun(r, a, b - a, err);
  // Short of zero-source VMAs for the whole run: the faulting page alone.
  if (res == ServeResult::kNoZeroVma && b - a > 1) res = MapZeroRun(r, u, 1, err);
  return res;
}

bool TakeBlock(FaultReserve& q, uint64_t* block) {
  while (q.run < q.run_start.size()) {
    if (q.taken_in_run < q.run_length[q.run]) {
      *block = q.run_start[q.run] + q.taken_in_run++;
      return true;
    }
    q.run++;
    q.taken_in_run = 0;
  }
  return false;
}

// Every other mapping of the file learns that file block `fb` is now pool
// block `block`; those showing zeros there show the block, read-only.
void SwitchGroup(Reservation& r, uint64_t fb, uint64_t block) {
  for (Reservation* o : r.region->mappings) {
    if (o == &r || o->released || !o->tp.on || o->tp.group != r.tp.group) continue;
    if (fb < o->tp.first_block || fb - o->tp.first_block >= o->range.states.size()) continue;
    size_t v = static_cast<size_t>(fb - o->tp.first_block);
    o->tp.targets[v] = static_cast<double>(block);
    if (o->range.states[v] != PageState::kZero) continue;
    int ignored = 0;
    // On failure the page is torn down: it faults again, from the new target.
    MapBlockRun(*o, v, 1, block, false, &ignored);
  }
}

// The grant ran low: the TypeScript layer refills it on its next turn.
void WakeIfLow(FaultReserve& q) {
  if (q.wake != nullptr && q.counters[1] < q.counters[3]) uv_async_send(static_cast<uv_async_t*>(q.wake));
}

ServeResult ServeFill(Reservation& r, size_t u, int* err) {
  TransparentTable& t = r.tp;
  RegionCore& c = *r.region;
  FaultReserve* q = c.fault_reserve.get();
  double target = t.targets[u];
  bool convert = IsUnwritten(target);
  if (q == nullptr || q->logged >= q->log.size()) return ServeResult::kNoReserve;
  uint64_t block;
  if (convert) {
    block = UnwrittenBlock(target);
  } else if (!TakeBlock(*q, &block)) {
    WakeIfLow(*q);
    return ServeResult::kNoReserve;
  }
  size_t unit = r.range.unit;
  // Zeroed before anything can show it; durable before adoption commits it
  // (the adoption flushes the block too, for CPUs without streaming stores).
  size_t head = 0, tail = 0;
  uint8_t* bytes = c.base() + block * unit;
  NtZero(bytes, unit, &head, &tail);
  if (head != 0 || tail != 0) FlushRange(c.flush, bytes, unit);
  StoreFence();
  uint64_t fb = t.first_block + u;
  t.targets[u] = static_cast<double>(block);
  SwitchGroup(r, fb, block);
  if (!MapBlockRun(r, u, 1, block, true, err)) return ServeResult::kFailed;
  q->log[q->logged++] = Adoption{static_cast<double>(t.group), static_cast<double>(fb),
                                 static_cast<double>(block), convert ? 1.0 : 0.0};
  q->counters[0] = static_cast<uint32_t>(q->logged);
  q->counters[1] = static_cast<uint32_t>(std::min<uint64_t>(q->Left(), UINT32_MAX));
  if (convert) t.converts++;
  else t.fills++;
  if (q->wake != nullptr) uv_async_send(static_cast<uv_async_t*>(q->wake));
  return ServeResult::kServed;
}


ServeResult ServeWrite(Reservation& r, size_t u, int* err) {
  TransparentTable& t = r.tp;
  PageState s = r.range.states[u];
  double target = t.targets[u];
  size_t unit = r.range.unit;
  if (!t.shared) {
    // Copy on write: the file never changes through a private mapping.
    t.copies++;
    if (s == PageState::kPrivateRead) {
      if (mprotect(At(r, u), unit, PROT_READ | PROT_WRITE) != 0) {
        *err = errno;
        return ServeResult::kFailed;
      }
      SetStates(&r.range, u, 1, PageState::kPrivateWrite);
      return ServeResult::kServed;
    }
    void* p = mmap(At(r, u), unit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) {
      *err = errno;
      return ServeResult::kFailed;
    }
    if (target >= 0) std::memcpy(p, r.region->base() + static_cast<uint64_t>(target) * unit, unit);
    r.Record(u * unit, unit, PageState::kPrivateWrite, false);
    r.blocks[u] = -1;
    return ServeResult::kServed;
  }
  if (s == PageState::kBlockRead) {
    t.writes++;
    if (mprotect(At(r, u), unit, PROT_READ | PROT_WRITE) != 0) {
      *err = errno;
      return ServeResult::kFailed;
    }
    SetStates(&r.range, u, 1, PageState::kBlockWrite);
    return ServeResult::kServed;
  }
  if (target >= 0) {
    t.writes++;
    return MapBlockRun(r, u, 1, static_cast<uint64_t>(target), true, err) ? ServeResult::kServed
                                                                           : ServeResult::kFailed;
  }
  return ServeFill(r, u, err);
}

Reservation* FindReservation(const RegionCore* core, uintptr_t begin) {
  for (Reservation* r : core->mappings)
    if (r->range.start == begin && !r->released) return r;
  return nullptr;
}

}  // namespace

FaultServiceLock::FaultServiceLock() {
  for (unsigned spins = 0; service_lock.test_and_set(std::memory_order_acquire); spins++) {
    if (spins > 64) sched_yield();
  }
}

FaultServiceLock::~FaultServiceLock() { service_lock.clear(std::memory_order_release); }

// Cached per thread: a system call costs a microsecond on a VM, and every
// layout change of a mapped file asks. Initial-exec TLS: the signal handler
// reads it (see fault_guard.cc).
__attribute__((tls_model("initial-exec"))) thread_local long cached_thread_id = 0;

long ThreadId() {
  if (cached_thread_id == 0) cached_thread_id = static_cast<long>(syscall(SYS_gettid));
  return cached_thread_id;
}

bool FaultReserve::HeldElsewhere(uint32_t group, long thread) const {
  for (const GroupHold& h : holds)
    if (h.count != 0 && h.group == group) return h.thread != thread;
  return false;
}

uint64_t FaultReserve::Left() const {
  uint64_t left = 0;
  for (size_t i = run; i < run_start.size(); i++) left += run_length[i];
  return left - (run < run_start.size() ? taken_in_run : 0);
}

ServeResult ServeFault(uintptr_t address, bool write, bool write_known, int* err, bool from_uffd) {
  FaultSite site;
  if (!FindFaultSite(address, &site) || !site.mapping) return ServeResult::kNotOurs;
  if (serving) return ServeResult::kNotServed;  // a fault inside the service
  serving = 1;
  ServeResult res;
  {
    FaultServiceLock lock;
    Reservation* r = FindReservation(site.core, site.begin);
    FaultReserve* q = r == nullptr ? nullptr : r->region->fault_reserve.get();
    if (r == nullptr || !r->tp.on) {
      res = ServeResult::kNotServed;
    } else if (q != nullptr && q->HeldElsewhere(r->tp.group, ThreadId())) {
      res = ServeResult::kWait;
    } else {
      size_t u = (address - r->range.start) / r->range.unit;
      uint64_t end = site.end_offset;  // found with the site: one scan of the table per fault
      size_t eof_units = end == UINT64_MAX ? SIZE_MAX : static_cast<size_t>((end + r->range.unit - 1) / r->range.unit);
      PageState s = r->range.states[u];
      // A fault on a readable page is a store where the CPU does not say.
      if (Readable(s) && !write_known) write = true;
      if (u >= eof_units) res = ServeResult::kPastEnd;
      else if (write && !r->tp.writable) res = ServeResult::kBadAccess;
      else if (write ? Writable(s) : Readable(s)) res = ServeResult::kServed;  // another thread was first
      else res = write ? ServeWrite(*r, u, err) : ServeRead(*r, u, eof_units, err);
      // Reported by userfaultfd and not served: the page must fail the
      // retry as it would without the service — inaccessible, so a user
      // access raises SIGSEGV (reported by the handler) and a system call
      // gets EFAULT — instead of waking into registered anonymous memory.
      if (from_uffd && res != ServeResult::kServed && r->range.states[u] == PageState::kNone)
        MakeInaccessible(At(*r, u), r->range.unit);
    }
  }
  serving = 0;
  return res;
}

namespace {
std::atomic<int> waiting_faults{0};
}  // namespace

void AddWaitingFault(int delta) { waiting_faults.fetch_add(delta, std::memory_order_acq_rel); }

bool FaultsWaiting() { return waiting_faults.load(std::memory_order_acquire) > 0; }

void LetWaitingFaultsThrough() {
  while (waiting_faults.load(std::memory_order_acquire) > 0) sched_yield();
}

ServeResult ServeFaultWaiting(uintptr_t address, bool write, bool write_known, int* err) {
  bool counted = false;
  for (;;) {
    ServeResult res = ServeFault(address, write, write_known, err, false);
    if (res != ServeResult::kWait) {
      if (counted) AddWaitingFault(-1);
      return res;
    }
    if (!counted) AddWaitingFault(1);
    counted = true;
    sched_yield();
  }
}

void Retarget(Reservation& r, size_t first, size_t count, const double* runs, size_t nruns) {
  FaultServiceLock lock;
  TransparentTable& t = r.tp;
  std::fill(t.targets.begin() + first, t.targets.begin() + first + count, -1.0);
  double fb0 = static_cast<double>(t.first_block + first);
  double fb1 = fb0 + static_cast<double>(count);
  for (size_t k = 0; k < nruns; k++) {
    const double* run = runs + k * 4;
    double pool = run[2];
    if (pool < 0) continue;
    double from = std::max(run[0], fb0), to = std::min(run[0] + run[1], fb1);
    for (double fb = from; fb < to; fb++) {
      double block = pool + (fb - run[0]);
      t.targets[static_cast<size_t>(fb - static_cast<double>(t.first_block))] = run[3] != 0 ? -(block + 2) : block;
    }
  }
  // A fill the pool has not adopted yet is still this file's block.
  const FaultReserve* q = r.region ? r.region->fault_reserve.get() : nullptr;
  if (q == nullptr) return;
  for (size_t i = 0; i < q->logged; i++) {
    const Adoption& a = q->log[i];
    if (a.group != static_cast<double>(t.group) || a.file_block < fb0 || a.file_block >= fb1) continue;
    t.targets[static_cast<size_t>(a.file_block - static_cast<double>(t.first_block))] = a.pool_block;
  }
}

void ReportUnserved(uintptr_t address, bool store, ServeResult why, int err) {
  switch (why) {
    case ServeResult::kNoReserve:
      ReportUnservedFault(address, store,
                          "no pool block is left to fill the hole (the pool is full, or more holes were stored into "
                          "than the fault reserve holds before the event loop turned); allocate the range first "
                          "(allocate or populate with write: true)",
                          0);
      break;
    case ServeResult::kNoZeroVma:
      ReportUnservedFault(address, store,
                          "no VMA is left to show zeros (the zero-source limit); raise it (setZeroSourceLimit) or "
                          "vm.max_map_count",
                          0);
      break;
    default:
      ReportUnservedFault(address, store, "a system call failed serving the fault", err);
      break;
  }
}

}  // namespace daxfs
