#include "region_async.h"

#include <cstring>
#include <string>

#include "args.h"
#include "errors.h"
#include "page_state.h"
#include "region_io.h"

namespace daxfs {
namespace {

class CopyWorker : public Napi::AsyncWorker {
 public:
  CopyWorker(Napi::Env env, std::shared_ptr<RegionCore> core, Napi::Value buffer, uint8_t* user,
             uint64_t offset, uint64_t length, bool to_region, bool persist)
      : Napi::AsyncWorker(env, "daxfs:copy"),
        deferred_(Napi::Promise::Deferred::New(env)),
        core_(std::move(core)),
        user_(user),
        offset_(offset),
        length_(length),
        to_region_(to_region),
        persist_(persist) {
    buffer_ = Napi::Persistent(buffer.As<Napi::Object>());
    core_->BeginAsync();
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    if (to_region_) {
      err_ = CopyIn(*core_, stats_, offset_, user_, length_, persist_);
    } else {
      std::memmove(user_, core_->mapped_ + offset_, length_);
      stats_.bytes_read += length_;
    }
  }

  void OnOK() override {
    Finish();
    if (err_ != 0) {
      try {
        ThrowErrno(Env(), err_, "msync", "persisting the written range", core_->path);
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
      return;
    }
    deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(length_)));
  }

  void OnError(const Napi::Error& e) override {
    Finish();
    deferred_.Reject(e.Value());
  }

 private:
  void Finish() {
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
  RegionStats stats_;
};

}  // namespace

Napi::Value WriteAsync(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core) {
  Napi::Env env = info.Env();
  RegionCore& c = RequireWritable(env, core.get());
  uint64_t offset = ArgIndex(info, 0, "offset");
  ByteSpan source = ArgBytes(info, 1, "source");
  uint64_t source_offset = ArgIndex(info, 2, "sourceOffset");
  uint64_t length = ArgIndex(info, 3, "length");
  bool persist = ArgBool(info, 4, "persist", true);
  CheckRange(env, source_offset, length, source.length, "sourceOffset", "length", "source buffer");
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  std::string why;
  if (!CheckUserBuffer(source.data + source_offset, length, false, &why))
    ThrowCode(env, "EFAULT", "source: " + why);
  auto* worker = new CopyWorker(env, core, info[1], source.data + source_offset, offset, length,
                                true, persist);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value ReadAsync(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core) {
  Napi::Env env = info.Env();
  RegionCore& c = RequireOpen(env, core.get());
  uint64_t offset = ArgIndex(info, 0, "offset");
  ByteSpan target = ArgBytes(info, 1, "target");
  uint64_t target_offset = ArgIndex(info, 2, "targetOffset");
  uint64_t length = ArgIndex(info, 3, "length");
  CheckRange(env, target_offset, length, target.length, "targetOffset", "length", "target buffer");
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  std::string why;
  if (!CheckUserBuffer(target.data + target_offset, length, true, &why))
    ThrowCode(env, "EFAULT", "target: " + why);
  auto* worker = new CopyWorker(env, core, info[1], target.data + target_offset, offset, length,
                                false, false);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace daxfs
