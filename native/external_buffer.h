// External ArrayBuffers over native memory, held by their owner and
// detachable: once detached, every view of them reads as length 0, so JS can
// never reach memory through them after close. A buffer whose memory was
// moved elsewhere (ArrayBuffer.prototype.transfer) escapes the detach; its
// address span (address_span.h) then stays reserved until it is finalized.
//
// The engine limits one ArrayBuffer (4 GiB on Node 20, see below). A larger
// range is covered by windows of that size starting every half
// window, so that any view of up to half a window lies wholly inside one.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "address_span.h"

namespace daxfs {

// What an external buffer keeps alive until it is finalized: the object
// whose memory it shows (a region stays mapped while a view of it is
// reachable) and the address span, never unmapped under a live buffer.
struct BufferHold {
  std::shared_ptr<void> owner;
  std::shared_ptr<AddressSpan> span;
};

// How large one external ArrayBuffer may be. Node declares a limit
// (buffer.constants.MAX_LENGTH, set from JS at load time: nothing larger is
// ever tried), but what the engine accepts is learnt by trying: a length is
// tried once, over reserved inaccessible address space, the first time it
// matters, and the answer kept. A length is only tried when a buffer that
// large is about to exist anyway, because the engine counts every byte of
// an ArrayBuffer as memory pressure: trying gigabytes costs a full garbage
// collection.
void SetDeclaredArrayBufferLimit(uint64_t length);
// Whether the engine creates an external ArrayBuffer of `length` bytes.
bool ArrayBufferFits(Napi::Env env, uint64_t length);
// The largest length that fits, found by halving from the declared limit
// (bounded by the address space): the engine's limit, or for an engine that
// accepts more than a process can map, the largest range it could reserve.
uint64_t LargestArrayBuffer(Napi::Env env);

// One buffer's finalizer data.
struct BufferHint;

// Creates an external ArrayBuffer holding `hold`; throws ERANGE past the
// engine's limit. Never lets a failed creation free the hold twice.
// `*hint` identifies the buffer to OwnedBuffer.
Napi::ArrayBuffer NewExternalArrayBuffer(Napi::Env env, void* data, size_t length,
                                         const std::shared_ptr<BufferHold>& hold, BufferHint** hint);

// A buffer made by NewExternalArrayBuffer, as its owner keeps track of it.
class OwnedBuffer {
 public:
  OwnedBuffer() = default;
  // Strong: the owner keeps the buffer alive; weak: only detaches it if alive.
  OwnedBuffer(Napi::ArrayBuffer ab, BufferHint* hint, bool strong);
  bool IsEmpty() const { return ref_.IsEmpty(); }
  Napi::ArrayBuffer Value() const { return ref_.Value(); }
  // Whether JS detached it (transfer()); false for a collected weak buffer.
  bool DetachedElsewhere() const;
  // Detaches the buffer if it still shows the memory (and tells the span
  // that it reaches nothing any more), then forgets it.
  void Detach();
  void Reset() { ref_.Reset(); }

 private:
  Napi::Reference<Napi::ArrayBuffer> ref_;
  BufferHint* hint_ = nullptr;  // valid while the buffer is attached
};

class ExternalWindows {
 public:
  // Lays the windows out: one over everything when the engine takes a
  // buffer that large.
  void Init(Napi::Env env, uint8_t* data, uint64_t length, std::shared_ptr<BufferHold> hold);
  // The longest view that lies inside one window.
  uint64_t longest_view() const { return count() == 1 ? length_ : window_ / 2; }
  // Bytes between window starts, and the length of each window.
  uint64_t stride() const { return stride_; }
  uint64_t window_length() const { return window_; }
  uint64_t count() const { return windows_.size(); }
  // Window `index` (created on first use, and again if JS detached it by
  // transferring it); undefined once detached by Detach().
  Napi::Value Get(Napi::Env env, size_t index);
  // A buffer over exactly [offset, offset + length), detached with the
  // windows. For long-lived views of small metadata: the engine accounts an
  // ArrayBuffer's whole length as memory pressure, so a window of gigabytes
  // created just to read a bitmap would cost garbage collections.
  Napi::Value Range(Napi::Env env, uint64_t offset, uint64_t length);
  // Detaches every buffer created so far, forgets them and drops the hold.
  void Detach();

 private:
  uint8_t* data_ = nullptr;
  uint64_t length_ = 0;
  uint64_t stride_ = 0;
  uint64_t window_ = 0;
  bool detached_ = false;
  std::shared_ptr<BufferHold> hold_;
  std::vector<OwnedBuffer> windows_;
  std::vector<OwnedBuffer> ranges_;
};

}  // namespace daxfs
