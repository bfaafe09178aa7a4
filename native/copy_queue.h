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
#pragma once

#include <napi.h>

#include <memory>

namespace daxfs {

class CopyJob {
 public:
  virtual ~CopyJob() = default;
  // On the draining thread.
  virtual void Execute() = 0;
  // On the main thread, once, after Execute (inside a callback scope shared
  // with the other jobs settled by the same wake-up: promise reactions run
  // once it closes). The job is deleted afterwards.
  virtual void Complete(Napi::Env env) = 0;
};

// Queues `job` (main thread). It starts after every job queued before it.
void SubmitCopy(Napi::Env env, std::unique_ptr<CopyJob> job);

}  // namespace daxfs
