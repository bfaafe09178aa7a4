#include "external_buffer.h"

namespace daxfs {

void ExternalBuffer::Create(Napi::Env env, void* data, size_t length,
                            std::shared_ptr<void> keep_alive) {
  auto* hint = new std::shared_ptr<void>(std::move(keep_alive));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, data, length,
      [](Napi::Env, void*, std::shared_ptr<void>* owner) { delete owner; }, hint);
  ref_ = Napi::Reference<Napi::ArrayBuffer>::New(buffer, 1);
}

Napi::Value ExternalBuffer::Get(Napi::Env env) const {
  if (ref_.IsEmpty()) return env.Undefined();
  return ref_.Value();
}

void ExternalBuffer::Detach() {
  if (ref_.IsEmpty()) return;
  Napi::ArrayBuffer buffer = ref_.Value();
  if (!buffer.IsDetached()) buffer.Detach();
  ref_.Reset();
}

}  // namespace daxfs
