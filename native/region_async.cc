#include "region_async.h"

#include <cstring>
#include <memory>
#include <string>

#include "args.h"
#include "backing_fault.h"
#include "copy_queue.h"
#include "errors.h"
#include "page_state.h"
#include "region_io.h"

namespace daxfs {
namespace {

class Copy : public CopyJob {
 public:
  Copy(Napi::Env env, std::shared_ptr<RegionCore> core, Napi::Value buffer, uint8_t* user,
       uint64_t offset, uint64_t length, bool to_region, bool persist)
      : deferred_(Napi::Promise::Deferred::New(env)),
        core_(std::move(core)),
        user_(user),
        offset_(offset),
        length_(length),
        to_region_(to_region),
        persist_(persist) {
    buffer_ = Napi::Persistent(buffer.As<Napi::Object>());
    core_->BeginAsync();
    pin_ = Pin(user_, length_, core_->mapped_ + offset_, length_);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  uint64_t Length() const override { return length_; }

  // Dropped unsettled (the environment is going): the region's count of
  // copies in flight and the buffer's reference are released all the same.
  ~Copy() override {
    if (!finished_) Finish();
  }

  void Execute() override {
    // On the copying thread too a page the backing cannot supply ends the
    // copy, not the process: the fault is reported when the promise settles.
    // A buffer inside a daxfs mapping goes through an aside, as write() does.
    Aside aside(user_, length_);
    auto copy = [&] {
      if (to_region_) {
        err_ = CopyIn(*core_, stats_, offset_, aside.Take(user_, length_), length_, persist_);
      } else if (uint8_t* a = aside.get()) {
        std::memcpy(a, core_->mapped_ + offset_, length_);
        std::memcpy(user_, a, length_);
      } else if (length_ > 0) {  // an empty buffer's data may be null
        std::memmove(user_, core_->mapped_ + offset_, length_);
      }
    };
    faulted_ = !Guarded(RegionRange(*core_), GuardRange::Of(user_, length_), &fault_, copy);
    if (!to_region_ && !faulted_) stats_.bytes_read += length_;
    // Released here, on the copying thread: the main thread may be waiting
    // for it (a truncate tearing down pages this copy touches).
    Unpin(pin_);
  }

  void Complete(Napi::Env env) override {
    // The error is made before Finish: that may let the backing go (a close
    // was waiting for this copy), and the error names what the backing held.
    Napi::Value error;
    if (faulted_ || err_ != 0) {
      try {
        if (faulted_) ThrowBusFault(env, *core_, fault_);
        ThrowErrno(env, err_, "msync", "persisting the written range", core_->path);
      } catch (const Napi::Error& e) {
        error = e.Value();
      }
    }
    Finish();
    if (!error.IsEmpty()) {
      deferred_.Reject(error);
      return;
    }
    deferred_.Resolve(Napi::Number::New(env, static_cast<double>(length_)));
  }

 private:
  void Finish() {
    finished_ = true;
    Unpin(pin_);  // no-op after Execute
    core_->stats += stats_;
    core_->EndAsync();
    buffer_.Reset();
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<RegionCore> core_;
  Napi::ObjectReference buffer_;
  uint8_t* user_;
  uint64_t offset_;
  uint64_t length_;
  bool to_region_;
  bool persist_;
  int err_ = 0;
  bool faulted_ = false;
  bool finished_ = false;
  BusFault fault_;
  uint64_t pin_ = 0;
  RegionStats stats_;
};

}  // namespace

namespace {

// writeAsync(offset, buffer, bufferOffset, length, persist, onLoop) and
// readAsync(offset, buffer, bufferOffset, length, onLoop): checked here, on
// the main thread, before anything is queued. onLoop: the copy is left to
// this thread's loop (copy_queue.h).
Napi::Value CopyAsync(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core,
                      bool to_region) {
  Napi::Env env = info.Env();
  RegionCore& c = to_region ? RequireWritable(env, core.get()) : RequireOpen(env, core.get());
  const char* buffer_name = to_region ? "source" : "target";
  const char* offset_name = to_region ? "sourceOffset" : "targetOffset";
  uint64_t offset = ArgIndex(info, 0, "offset");
  ByteSpan user = ArgBytes(info, 1, buffer_name);
  uint64_t user_offset = ArgIndex(info, 2, offset_name);
  uint64_t length = ArgIndex(info, 3, "length");
  bool persist = to_region && ArgBool(info, 4, "persist", true);
  bool on_loop = ArgBool(info, to_region ? 5 : 4, "onLoop", false);
  CheckRange(env, user_offset, length, user.length, offset_name, "length",
             to_region ? "source buffer" : "target buffer");
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  std::string why;
  if (!CheckUserBuffer(user.data + user_offset, length, !to_region, &why))
    ThrowCode(env, "EFAULT", std::string(buffer_name) + ": " + why);
  auto copy = std::make_unique<Copy>(env, core, info[1], user.data + user_offset, offset, length,
                                     to_region, persist);
  Napi::Promise promise = copy->Promise();
  SubmitCopy(env, std::move(copy), on_loop);
  return promise;
}

}  // namespace

Napi::Value WriteAsync(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core) {
  return CopyAsync(info, core, true);
}

Napi::Value ReadAsync(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core) {
  return CopyAsync(info, core, false);
}

}  // namespace daxfs
