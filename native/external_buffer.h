// One external ArrayBuffer over native memory, held strongly by its owner and
// detachable: once detached, every view of it reads as length 0, so JS can
// never reach memory that is about to be unmapped. The buffer also keeps the
// memory's owner alive (a shared_ptr) for as long as V8 holds it.
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>

namespace daxfs {

class ExternalBuffer {
 public:
  void Create(Napi::Env env, void* data, size_t length, std::shared_ptr<void> keep_alive);
  // The buffer; empty when never created or already detached.
  Napi::Value Get(Napi::Env env) const;
  // Detaches the buffer (all its views become length 0) and drops the reference.
  void Detach();

 private:
  Napi::Reference<Napi::ArrayBuffer> ref_;
};

}  // namespace daxfs
