// The queue asynchronous copies go through: one per environment, drained by
// at most two work items on the libuv thread pool, each copy's completion
// sent to the main thread as soon as it is done while its drainer goes on
// with the next copy (or waits briefly for one).
//
// Why not a thread-pool work item per copy: each costs two thread hand-offs
// (a worker woken to copy, the main thread woken to settle it), and on a
// busy machine a hand-off costs about as much as copying 1 MiB — requests
// kept in flight then still leave the copying thread idle between them.
// With the queue, requests submitted while one is copying are picked up by
// the same thread without a wake-up, and all copies done since the main
// thread last ran settle in one wake-up, in one callback scope (their
// promise reactions run together). A finished copy is never held back for
// another one: on a loaded machine the thread it would wait for may not be
// running. Copies start in submission order; ordering between overlapping
// ones is the caller's business (the pool's pins).
//
// The main thread copies too, when it has nothing else to do: a copy of at
// most kLoopCopyLimit bytes is left to it, and just before its event loop
// would block (no timer due, nothing ready to run, no I/O ready) it takes
// the queued ones itself and settles each at once, in the same turn. Such
// a copy costs no hand-off at all (a thread wake-up each way costs about as
// much as copying 1 MiB on a busy machine), and the loop's answer to an
// event arriving meanwhile is delayed by at most kLoopCopyLimit bytes of
// copying. Larger copies, and small ones the loop is too busy for two turns
// running, go to the threads. A main thread about to block for a pinned
// copy that is still queued runs the queue first (RunQueuedCopiesHere).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

namespace daxfs {

class CopyJob {
 public:
  virtual ~CopyJob() = default;
  // On the draining thread.
  virtual void Execute() = 0;
  // Bytes it copies (decides whether the main thread may take it).
  virtual uint64_t Length() const = 0;
  // On the main thread, once, after Execute (inside a callback scope shared
  // with the other jobs settled by the same wake-up: promise reactions run
  // once it closes). The job is deleted afterwards. An environment being
  // torn down may delete a job without calling it: the destructor then
  // releases what Complete would have.
  virtual void Complete(Napi::Env env) = 0;
};

// The largest copy the main thread takes from the queue while idle: about
// 40 µs at DRAM speed, the longest an event arriving meanwhile waits.
constexpr uint64_t kLoopCopyLimit = uint64_t{1} << 20;

// Queues `job` (main thread). It starts after every job queued before it.
void SubmitCopy(Napi::Env env, std::unique_ptr<CopyJob> job);

// Runs every copy still queued in the calling thread's environment, on the
// calling thread, now (their promises settle at its next turn). For a main
// thread about to wait for a copy's pin: that copy may be one left to it.
// No-op on other threads, and for an environment that never queued a copy.
void RunQueuedCopiesHere();

}  // namespace daxfs
