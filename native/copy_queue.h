// The queue asynchronous copies go through, one per environment (the main
// thread or a worker).
//
// Who copies: a copy the TypeScript layer leaves to the loop (a small one)
// is run by the environment's own thread, from a prepare handle, just
// before its event loop would block — no timer due, nothing pending, no
// immediate, no I/O ready — and settled right there, in the same turn.
// Every other copy goes to at most two work items on the libuv thread pool
// ("drainers"), each taking the next copy without a hand-off and sending
// its completion to the main thread as soon as it is done; all copies
// finished since the main thread last ran settle in one wake-up, in one
// callback scope. On a busy machine a thread wake-up each way costs about
// as much as copying 1 MiB: a small copy is cheapest where its promise
// settles, when that thread has nothing else to do; a large one must not
// hold the loop. Loop copies the loop is too busy for, two turns running,
// go to the threads.
//
// Copies start in submission order, whoever runs them (a loop copy behind
// a thread's copy goes to the threads); ordering between overlapping ones
// is the caller's business (the pool's pins). A main thread about to block
// for a pinned copy that is still queued runs the queue first
// (RunQueuedCopiesHere): it may be the one left to it. Pins are
// process-wide, queues are not: a wait for a copy left to another
// environment's loop lasts until that loop turns (it never does if that
// thread is blocked waiting for this one).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

namespace daxfs {

class CopyJob {
 public:
  virtual ~CopyJob() = default;
  // On the copying thread.
  virtual void Execute() = 0;
  // Bytes it copies.
  virtual uint64_t Length() const = 0;
  // On the main thread, once, after Execute (inside a callback scope shared
  // with the other jobs settled by the same wake-up: promise reactions run
  // once it closes). The job is deleted afterwards. An environment being
  // torn down may delete a job without calling it: the destructor then
  // releases what Complete would have.
  virtual void Complete(Napi::Env env) = 0;
};

// Queues `job` (main thread), left to the loop (`on_loop`) or for the
// threads. It starts after every job queued before it.
void SubmitCopy(Napi::Env env, std::unique_ptr<CopyJob> job, bool on_loop);

// Runs every copy still queued in the calling thread's environment, on the
// calling thread, now (their promises settle at its next turn). For a main
// thread about to wait for a copy's pin: that copy may be one left to it.
// No-op on other threads, and for an environment that never queued a copy.
void RunQueuedCopiesHere();

}  // namespace daxfs
