#include "copy_queue.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "addon_data.h"

namespace daxfs {

class CopyQueue;

namespace {
void Settle(Napi::Env env, Napi::Function, CopyQueue* queue, void*);
using Completions = Napi::TypedThreadSafeFunction<CopyQueue, void, Settle>;
}  // namespace

class CopyQueue : public std::enable_shared_from_this<CopyQueue> {
 public:
  explicit CopyQueue(Napi::Env env) : context_(env, "daxfs:copy") {
    completions_ = Completions::New(env, "daxfs:copy", 0, 1, this);
    completions_.Unref(env);  // idle: the queue keeps no process alive
  }

  void Submit(Napi::Env env, std::unique_ptr<CopyJob> job) {
    if (inflight_++ == 0) completions_.Ref(env);
    bool start = false;
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back(job.release());
      // An idle drainer takes it. A second drainer starts only for a
      // backlog: with one job waiting behind the running copy, that copy's
      // thread takes it next without a hand-off (two drainers would both go
      // idle waiting for the main thread instead).
      if (waiting_ >= pending_.size()) wake = true;
      else if (drainers_ == 0 || (pending_.size() >= 2 && drainers_ < kMaxDrainers)) {
        drainers_++;
        start = true;
      }
    }
    if (start) (new Drainer(env, shared_from_this()))->Queue();
    else if (wake) arrived_.notify_one();
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
    if (inflight_ == 0) completions_.Unref(env);
    Napi::HandleScope handles(env);
    Napi::CallbackScope scope(env, context_);
    for (auto& job : done) job->Complete(env);
  }

 private:
  // Runs the queued jobs until none is left (and none came during its
  // linger); the counts change under the lock, so a job is always taken by
  // a running drainer or starts one.
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
          job = queue_->pending_.front();
          queue_->pending_.pop_front();
        }
        job->Execute();
        {
          std::lock_guard<std::mutex> lock(queue_->mutex_);
          queue_->done_.push_back(job);
        }
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

  Napi::AsyncContext context_;
  Completions completions_;
  int inflight_ = 0;  // main thread only
  std::mutex mutex_;
  std::deque<CopyJob*> pending_;
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
  queue->Settle(env);
}
}  // namespace

void SubmitCopy(Napi::Env env, std::unique_ptr<CopyJob> job) {
  // One queue per environment, for its lifetime (its thread-safe function
  // is finalised with the environment).
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!data->copy_queue) data->copy_queue = std::make_shared<CopyQueue>(env);
  data->copy_queue->Submit(env, std::move(job));
}

}  // namespace daxfs
