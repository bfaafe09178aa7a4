#include "copy_queue.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include <poll.h>
#include <uv.h>

#include "addon_data.h"

namespace daxfs {

class CopyQueue;

namespace {
void Settle(Napi::Env env, Napi::Function, CopyQueue* queue, void*);
using Completions = Napi::TypedThreadSafeFunction<CopyQueue, void, Settle>;
}  // namespace

// The queue of the environment whose main thread this is (RunQueuedCopiesHere).
thread_local std::weak_ptr<CopyQueue> this_threads_queue;

class CopyQueue : public std::enable_shared_from_this<CopyQueue> {
 public:
  explicit CopyQueue(Napi::Env env) : env_(env), context_(env, "daxfs:copy") {
    completions_ = Completions::New(env, "daxfs:copy", 0, 1, this);
    completions_.Unref(env);  // idle: the queue keeps no process alive
  }

  // After construction (it hands out weak references): the queue becomes
  // this thread's, and its loop's prepare handle is made. Without a loop to
  // help, every job is the threads'.
  void Attach(Napi::Env env) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return;
    auto* idle = new IdleHelp;
    idle->queue = weak_from_this();
    uv_prepare_init(loop, &idle->handle);
    idle->handle.data = idle;
    uv_unref(reinterpret_cast<uv_handle_t*>(&idle->handle));  // never keeps the loop alive
    if (napi_add_async_cleanup_hook(env, Detach, idle, &idle->hook) != napi_ok) {
      uv_close(reinterpret_cast<uv_handle_t*>(&idle->handle), [](uv_handle_t* h) { delete static_cast<IdleHelp*>(h->data); });
      return;
    }
    idle_ = idle;
    this_threads_queue = weak_from_this();
  }

  void Submit(Napi::Env env, std::unique_ptr<CopyJob> job, bool on_loop) {
    if (inflight_++ == 0) {
      completions_.Ref(env);
      if (idle_ != nullptr) uv_prepare_start(&idle_->handle, OnPrepare);
    }
    Threads threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Push({job.release(), on_loop && idle_ != nullptr});
      threads = ThreadsNeeded();
    }
    try {
      Call(env, threads);
    } catch (const Napi::Error&) {
      // No drainer could be made (an environment that can no longer run
      // JavaScript): the job stays queued, its promise with the caller; the
      // prepare handle asks for threads again, and the environment's
      // cleanup runs whatever is left.
    }
  }

  // The environment is going: jobs finished but never to be settled are
  // deleted now, while it still exists (their destructors release the
  // region and the buffer's reference). A drainer still running finishes
  // its job into done_ with no one to delete it: that job is left.
  void DropDone() {
    std::vector<CopyJob*> done;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done.swap(done_);
    }
    for (CopyJob* job : done) delete job;
  }

  // Runs every queued job on this thread (RunQueuedCopiesHere); they
  // settle through the usual wake-up.
  void RunPendingHere() {
    bool ran = false;
    for (;;) {
      CopyJob* job;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (pending_.empty()) break;
        job = Pop();
      }
      RunJob(job);
      ran = true;
    }
    if (ran) completions_.NonBlockingCall();
  }

  // Main thread: settles every job finished so far (one wake-up may bring
  // several), in one callback scope.
  void Settle(Napi::Env env) {
    std::vector<std::unique_ptr<CopyJob>> done;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done.reserve(done_.size());
      for (CopyJob* job : done_) done.emplace_back(job);
      done_.clear();
    }
    if (done.empty()) return;  // an earlier wake-up settled them
    inflight_ -= static_cast<int>(done.size());
    if (inflight_ == 0) {
      completions_.Unref(env);
      if (idle_ != nullptr) uv_prepare_stop(&idle_->handle);
    }
    Napi::HandleScope handles(env);
    Napi::CallbackScope scope(env, context_);
    for (auto& job : done) job->Complete(env);
  }

  // Settle() outside any callback of Node's (the thread-safe function's
  // wake-up, the prepare handle): see Report.
  void SettleOutsideCallbacks(Napi::Env env) {
    try {
      Settle(env);
    } catch (const Napi::Error& e) {
      Report(env, e);
    }
  }

 private:
  // An error outside any callback of Node's must not unwind into libuv: it
  // goes to the process's uncaught-exception handling. In an environment
  // being torn down (a worker terminated) even that fails, and nothing is
  // lost: a job dropped unsettled is released by its destructor, and the
  // environment's cleanup runs what is still queued.
  static void Report(Napi::Env env, const Napi::Error& e) {
    napi_value value = e.Value();
    if (value != nullptr) napi_fatal_exception(env, value);
  }

  // The main thread's help: a prepare handle, active while copies are in
  // flight. Prepare handles run just before the loop computes how long it
  // may block and polls.
  struct IdleHelp {
    uv_prepare_t handle;
    napi_async_cleanup_hook_handle hook = nullptr;
    std::weak_ptr<CopyQueue> queue;
  };

  static void OnPrepare(uv_prepare_t* handle) {
    auto* idle = static_cast<IdleHelp*>(handle->data);
    if (auto queue = idle->queue.lock()) queue->HelpWhileIdle(handle->loop);
  }

  // The environment is going: the handle closes (asynchronously, as libuv
  // requires), and jobs left to the loop run now — they have no thread,
  // and their pins must go (their promises go with the environment).
  static void Detach(napi_async_cleanup_hook_handle, void* arg) {
    auto* idle = static_cast<IdleHelp*>(arg);
    if (auto queue = idle->queue.lock()) {
      queue->idle_ = nullptr;
      queue->RunPendingHere();
      queue->DropDone();
    }
    this_threads_queue.reset();
    uv_prepare_stop(&idle->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle->handle), [](uv_handle_t* h) {
      auto* closed = static_cast<IdleHelp*>(h->data);
      napi_remove_async_cleanup_hook(closed->hook);
      delete closed;
    });
  }

  // Main thread, from the prepare handle. While the loop would block now
  // (uv_backend_timeout is not 0: no timer due, nothing pending, no
  // immediate) and no I/O is ready (looked at once per kIoCheckBytes
  // copied: an event arriving meanwhile waits for at most that much
  // copying), it runs the loop's jobs at the front of the queue, then
  // settles them: their promise reactions run here, in a callback scope, as
  // they would after a wake-up, and may queue the next requests, run in the
  // same turn. Loop jobs the loop is too busy to run now wait for the next
  // turn's prepare (they could not settle sooner anyway) and go to the
  // threads if that one is busy too; loop jobs behind a thread's job go to
  // the threads at once (they start in order).
  void HelpWhileIdle(uv_loop_t* loop) {
    Napi::Env env(env_);
    try {
      Napi::HandleScope handles(env);  // a drainer started here makes a resource object
      RunWhileIdle(env, loop);
    } catch (const Napi::Error& e) {
      Report(env, e);
    }
  }

  void RunWhileIdle(Napi::Env env, uv_loop_t* loop) {
    uint64_t unchecked = kIoCheckBytes;  // bytes copied since I/O was last looked at
    bool unsettled = false;              // jobs run here, not settled yet
    for (;;) {
      uint64_t length = 0;
      bool loop_front = LoopJobFirst(&length);
      bool busy = false;
      if (loop_front) {
        uv_update_time(loop);
        busy = uv_backend_timeout(loop) == 0;
        if (!busy && unchecked + length > kIoCheckBytes) {
          busy = IoReady(loop);
          unchecked = 0;
        }
      }
      CopyJob* job = nullptr;
      Threads threads;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        // a drainer may have taken the job looked at: then the front is another
        if (!pending_.empty() && pending_.front().on_loop) {
          if (!busy) {
            job = Pop();
            skipped_ = false;
          } else if (!skipped_) {
            skipped_ = true;  // once: the next turn's prepare
          } else {
            skipped_ = false;
            HandLoopJobsToThreads();
          }
        } else if (loop_pending_ > 0) {
          HandLoopJobsToThreads();
        }
        threads = ThreadsNeeded();
      }
      Call(env, threads);
      if (job == nullptr) {
        // The jobs run so far settle together, in one callback scope; their
        // reactions may queue more (a caller keeping requests in flight),
        // run in this turn too unless the loop has become busy.
        if (unsettled) SettleOutsideCallbacks(env);
        if (!unsettled || busy) return;
        unsettled = false;
        continue;
      }
      unchecked += job->Length();
      RunJob(job);
      unsettled = true;
    }
  }

  // Whether the oldest queued job is the loop's, and its length.
  bool LoopJobFirst(uint64_t* length) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.empty() || !pending_.front().on_loop) return false;
    *length = pending_.front().job->Length();
    return true;
  }

  // Whether the loop's poll set has events waiting (or cannot be asked:
  // then the loop had better poll).
  static bool IoReady(uv_loop_t* loop) {
    struct pollfd ready = {uv_backend_fd(loop), POLLIN, 0};
    return poll(&ready, 1, 0) != 0;
  }

  // Every queued job becomes the threads' (under mutex_).
  void HandLoopJobsToThreads() {
    for (Entry& e : pending_) e.on_loop = false;
    loop_pending_ = 0;
  }

  // Runs a job taken off the queue, on the calling thread; it then waits
  // in done_ to be settled.
  void RunJob(CopyJob* job) {
    job->Execute();
    std::lock_guard<std::mutex> lock(mutex_);
    done_.push_back(job);
  }

  struct Entry {
    CopyJob* job;
    bool on_loop;  // left to the main thread
  };

  // What the threads must do for the jobs that are theirs (under mutex_).
  enum class Threads { kNone, kWake, kStart };

  // The queue, with its count of loop jobs (under mutex_).
  void Push(Entry e) {
    pending_.push_back(e);
    if (e.on_loop) loop_pending_++;
  }
  CopyJob* Pop() {
    Entry e = pending_.front();
    pending_.pop_front();
    if (e.on_loop) loop_pending_--;
    return e.job;
  }

  // For the pending jobs that are the threads' (under mutex_): an idle
  // drainer takes the next one; a new drainer starts if none runs, or for a
  // backlog. With one job waiting behind a running copy, that copy's thread
  // takes it next without a hand-off (two drainers would both go idle
  // waiting for the main thread instead). Drainers take jobs in order, a
  // loop job at the front too: the count only says how many are needed.
  Threads ThreadsNeeded() {
    size_t need = pending_.size() - loop_pending_;
    if (need == 0) return Threads::kNone;
    if (waiting_ >= need) return Threads::kWake;
    if (drainers_ == 0 || (need >= 2 && drainers_ < kMaxDrainers)) {
      drainers_++;
      return Threads::kStart;
    }
    return Threads::kNone;
  }

  // Throws if a drainer cannot be made; the queue then counts no drainer
  // that does not run.
  void Call(Napi::Env env, Threads threads) {
    if (threads == Threads::kWake) {
      arrived_.notify_one();
    } else if (threads == Threads::kStart) {
      std::unique_ptr<Drainer> drainer;
      try {
        drainer.reset(new Drainer(env, shared_from_this()));
        drainer->Queue();
      } catch (const Napi::Error&) {
        std::lock_guard<std::mutex> lock(mutex_);
        drainers_--;
        throw;
      }
      drainer.release();  // queued: the work item deletes itself when done
    }
  }

  // Runs the queued jobs until none is left (and none came during its
  // linger); the counts change under the lock, so a job of the threads' is
  // always taken by a running drainer or starts one.
  class Drainer : public Napi::AsyncWorker {
   public:
    Drainer(Napi::Env env, std::shared_ptr<CopyQueue> queue)
        : Napi::AsyncWorker(env, "daxfs:copy-drain"), queue_(std::move(queue)) {}
    void Execute() override {
      for (;;) {
        CopyJob* job;
        {
          std::unique_lock<std::mutex> lock(queue_->mutex_);
          // A caller keeping requests in flight submits the next one as soon
          // as a completion reaches it: waiting that long here keeps this
          // thread (and its caches) on the stream instead of handing it to
          // a new work item.
          if (queue_->pending_.empty()) {
            queue_->waiting_++;
            // wait_until on the system clock, not wait_for: libstdc++ built
            // on glibc 2.34 turns a steady-clock wait into
            // pthread_cond_clockwait, which the prebuild must not need (it
            // runs on glibc 2.33); a clock step only lengthens or shortens
            // one linger.
            queue_->arrived_.wait_until(lock, std::chrono::system_clock::now() + kLinger, [this] { return !queue_->pending_.empty(); });
            queue_->waiting_--;
          }
          if (queue_->pending_.empty()) {
            queue_->drainers_--;
            return;
          }
          job = queue_->Pop();
        }
        queue_->RunJob(job);
        // Unlimited queue: never blocks, and fails only once the
        // environment is being torn down (the jobs are then abandoned with
        // it). Calls made before the main thread runs share one wake-up.
        queue_->completions_.NonBlockingCall();
      }
    }
    void OnOK() override {}

   private:
    std::shared_ptr<CopyQueue> queue_;  // outlives the environment's data while a drain runs
  };

  // How long an idle drainer waits for the next job before it ends: longer
  // than a busy main thread takes to settle one copy and submit the next.
  static constexpr std::chrono::microseconds kLinger{500};

  // Copying the loop does between looks at its poll set: ~40 µs at DRAM speed.
  static constexpr uint64_t kIoCheckBytes = uint64_t{1} << 20;

  napi_env env_;
  Napi::AsyncContext context_;
  Completions completions_;
  IdleHelp* idle_ = nullptr;  // main thread only; null once the environment is going
  bool skipped_ = false;      // main thread only: the last prepare was too busy for the loop's jobs
  int inflight_ = 0;          // main thread only
  std::mutex mutex_;
  std::deque<Entry> pending_;
  size_t loop_pending_ = 0;  // of them, left to the main thread
  std::condition_variable arrived_;
  size_t drainers_ = 0;  // running, under mutex_
  size_t waiting_ = 0;   // of them, idle in their linger
  std::vector<CopyJob*> done_;  // finished, not yet settled, under mutex_
  // Two: a second copy runs while one thread is descheduled or waits on
  // memory, and the pool's other threads stay free for file system work.
  static constexpr size_t kMaxDrainers = 2;
};

namespace {
void Settle(Napi::Env env, Napi::Function, CopyQueue* queue, void*) {
  if (env == nullptr) return;  // torn down: nothing to settle
  queue->SettleOutsideCallbacks(env);
}

// The environment's queue, made on first use (its thread-safe function is
// finalised with the environment).
CopyQueue& QueueOf(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!data->copy_queue) {
    data->copy_queue = std::make_shared<CopyQueue>(env);
    data->copy_queue->Attach(env);
  }
  return *data->copy_queue;
}
}  // namespace

void SubmitCopy(Napi::Env env, std::unique_ptr<CopyJob> job, bool on_loop) {
  QueueOf(env).Submit(env, std::move(job), on_loop);
}

void RunQueuedCopiesHere() {
  if (auto queue = this_threads_queue.lock()) queue->RunPendingHere();
}

}  // namespace daxfs
