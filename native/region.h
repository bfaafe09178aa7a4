// The JS Region class: a thin binding over RegionCore. Every method checks its
// arguments here, then does exactly one thing; policy lives in TypeScript.
#pragma once

#include <napi.h>

#include <memory>

#include "external_buffer.h"
#include "region_core.h"

namespace daxfs {

class Region : public Napi::ObjectWrap<Region> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Region(const Napi::CallbackInfo& info);
  ~Region() override;

  // The open core, or throws EBADF.
  const std::shared_ptr<RegionCore>& OpenCore(Napi::Env env);

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Report(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value ArrayBuffer(const Napi::CallbackInfo& info);
  Napi::Value ViewWindows(const Napi::CallbackInfo& info);
  Napi::Value RangeBuffer(const Napi::CallbackInfo& info);
  Napi::Value CheckView(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value WriteScatter(const Napi::CallbackInfo& info);
  Napi::Value JournalCommit(const Napi::CallbackInfo& info);
  Napi::Value Zero(const Napi::CallbackInfo& info);
  Napi::Value Persist(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Load64(const Napi::CallbackInfo& info);
  Napi::Value WaitIdle(const Napi::CallbackInfo& info);
  Napi::Value FirstTouch(const Napi::CallbackInfo& info);
  Napi::Value FaultRoundTrip(const Napi::CallbackInfo& info);
  Napi::Value CopyProbe(const Napi::CallbackInfo& info);
  Napi::Value TraceStart(const Napi::CallbackInfo& info);
  Napi::Value TraceMark(const Napi::CallbackInfo& info);
  Napi::Value TraceTake(const Napi::CallbackInfo& info);
  Napi::Value Store64(const Napi::CallbackInfo& info);
  Napi::Value Cas64(const Napi::CallbackInfo& info);
  Napi::Value BitmapFind(const Napi::CallbackInfo& info);
  Napi::Value BitmapSet(const Napi::CallbackInfo& info);
  Napi::Value BitmapClear(const Napi::CallbackInfo& info);
  Napi::Value BitmapCount(const Napi::CallbackInfo& info);
  Napi::Value FastCalls(const Napi::CallbackInfo& info);
  Napi::Value WriteAsync(const Napi::CallbackInfo& info);
  Napi::Value ReadAsync(const Napi::CallbackInfo& info);
  Napi::Value Lock(const Napi::CallbackInfo& info);
  Napi::Value Reserve(const Napi::CallbackInfo& info);
  Napi::Value Populate(const Napi::CallbackInfo& info);
  Napi::Value BackedBytes(const Napi::CallbackInfo& info);
  Napi::Value BackedUntil(const Napi::CallbackInfo& info);

  Napi::Value BitmapChange(const Napi::CallbackInfo& info, bool set);
  // The methods that take (offset, length) on an open region.
  using RangeOp = void (*)(Napi::Env, RegionCore&, uint64_t, uint64_t);
  Napi::Value OnRange(const Napi::CallbackInfo& info, RangeOp op);
  RegionCore& Writable(Napi::Env env);

  std::shared_ptr<RegionCore> core_;
  ExternalWindows buffers_;
};

}  // namespace daxfs
