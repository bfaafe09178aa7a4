#include "external_buffer.h"

#include <string>

#include "errors.h"

namespace daxfs {
namespace {

uint64_t max_array_buffer = uint64_t{1} << 32;  // Node 20's limit until told otherwise

void DeleteKeepAlive(napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<void>*>(hint); }

}  // namespace

uint64_t MaxArrayBufferLength() { return max_array_buffer; }
void SetMaxArrayBufferLength(uint64_t length) { max_array_buffer = length; }

Napi::ArrayBuffer NewExternalArrayBuffer(Napi::Env env, void* data, size_t length,
                                         std::shared_ptr<void> keep_alive) {
  if (length > max_array_buffer)
    ThrowCode(env, "ERANGE", "a buffer of " + std::to_string(length) +
                                 " bytes exceeds this engine's ArrayBuffer limit of " +
                                 std::to_string(max_array_buffer));
  // The raw call, not node-addon-api's wrapper: on failure the engine may or
  // may not have run the finalizer, and the wrapper would then free its data
  // a second time. Here a failure can at worst leak the small hint.
  auto* hint = new std::shared_ptr<void>(std::move(keep_alive));
  napi_value value = nullptr;
  napi_status status =
      napi_create_external_arraybuffer(env, data, length, DeleteKeepAlive, hint, &value);
  if (status != napi_ok) ThrowCode(env, "ENOMEM", "cannot create an external ArrayBuffer");
  return Napi::ArrayBuffer(env, value);
}

void ExternalWindows::Init(uint8_t* data, uint64_t length, std::shared_ptr<void> keep_alive) {
  data_ = data;
  length_ = length;
  keep_alive_ = std::move(keep_alive);
  if (length <= max_array_buffer) {
    window_ = length;
    stride_ = length;
  } else {
    window_ = max_array_buffer;
    stride_ = max_array_buffer / 2;
  }
  size_t count = length <= window_ ? 1 : static_cast<size_t>((length - window_ + stride_ - 1) / stride_) + 1;
  windows_.resize(count);
}

Napi::Value ExternalWindows::Get(Napi::Env env, size_t index) {
  if (detached_ || index >= windows_.size()) return env.Undefined();
  if (windows_[index].IsEmpty()) {
    uint64_t start = index * stride_;
    uint64_t len = std::min(window_, length_ - start);
    Napi::ArrayBuffer ab = NewExternalArrayBuffer(env, data_ + start, len, keep_alive_);
    windows_[index] = Napi::Reference<Napi::ArrayBuffer>::New(ab, 1);
  }
  return windows_[index].Value();
}

Napi::Value ExternalWindows::Range(Napi::Env env, uint64_t offset, uint64_t length) {
  if (detached_) return env.Undefined();
  Napi::ArrayBuffer ab = NewExternalArrayBuffer(env, data_ + offset, length, keep_alive_);
  ranges_.push_back(Napi::Reference<Napi::ArrayBuffer>::New(ab, 0));  // weak: only to detach
  return ab;
}

void ExternalWindows::Detach() {
  detached_ = true;
  for (auto* list : {&windows_, &ranges_}) {
    for (auto& ref : *list) {
      if (ref.IsEmpty()) continue;
      Napi::ArrayBuffer ab = ref.Value();
      if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
      ref.Reset();
    }
  }
  keep_alive_.reset();
}

}  // namespace daxfs
