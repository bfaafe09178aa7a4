// External ArrayBuffers over native memory, held by their owner and
// detachable: once detached, every view of them reads as length 0, so JS can
// never reach memory that is about to be unmapped. Each buffer keeps the
// memory's owner alive (a shared_ptr) for as long as V8 holds it.
//
// The engine limits one ArrayBuffer (4 GiB on Node 20). A larger range is
// covered by windows of that size starting every half window, so that any
// view of up to half a window lies wholly inside one of them.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace daxfs {

// The largest ArrayBuffer this engine accepts (set from JS at load time).
uint64_t MaxArrayBufferLength();
void SetMaxArrayBufferLength(uint64_t length);

// Creates an external ArrayBuffer; throws ERANGE past the engine's limit.
// Never lets a failed creation free `keep_alive` twice.
Napi::ArrayBuffer NewExternalArrayBuffer(Napi::Env env, void* data, size_t length,
                                         std::shared_ptr<void> keep_alive);

class ExternalWindows {
 public:
  void Init(uint8_t* data, uint64_t length, std::shared_ptr<void> keep_alive);
  // Bytes between window starts, and the length of each window.
  uint64_t stride() const { return stride_; }
  uint64_t window_length() const { return window_; }
  uint64_t count() const { return windows_.size(); }
  // Window `index` (created on first use); undefined once detached.
  Napi::Value Get(Napi::Env env, size_t index);
  // A buffer over exactly [offset, offset + length), detached with the
  // windows. For long-lived views of small metadata: the engine accounts an
  // ArrayBuffer's whole length as memory pressure, so a window of gigabytes
  // created just to read a bitmap would cost garbage collections.
  Napi::Value Range(Napi::Env env, uint64_t offset, uint64_t length);
  // Detaches every window created so far and forgets them.
  void Detach();

 private:
  uint8_t* data_ = nullptr;
  uint64_t length_ = 0;
  uint64_t stride_ = 0;
  uint64_t window_ = 0;
  bool detached_ = false;
  std::shared_ptr<void> keep_alive_;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> windows_;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> ranges_;
};

}  // namespace daxfs
