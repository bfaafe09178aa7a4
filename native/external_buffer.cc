#include "external_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "errors.h"
#include "vm.h"

namespace daxfs {
namespace {

// User space is 47 bits wide: no buffer can be larger.
constexpr uint64_t kAddressSpace = uint64_t{1} << 47;

// What is known of the engine, for the whole process (worker threads share it).
std::mutex limits_mutex;
uint64_t declared = uint64_t{1} << 32;  // Node 20's limit until told otherwise
uint64_t accepted = 0;                  // the largest length the engine took
uint64_t refused = UINT64_MAX;          // the smallest length it refused

void Nothing(napi_env, void*, void*) {}

// Creates an external ArrayBuffer of `length` bytes over reserved,
// inaccessible address space and detaches it at once: nothing can touch it.
bool TryLength(Napi::Env env, uint64_t length) {
  void* p = mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;  // no buffer that large can exist in this process
  napi_value value = nullptr;
  bool ok = napi_create_external_arraybuffer(env, p, length, Nothing, nullptr, &value) == napi_ok;
  if (ok) {
    napi_detach_arraybuffer(env, value);
  } else {
    napi_value error = nullptr;  // the engine's own RangeError: the answer, not a failure
    napi_get_and_clear_last_exception(env, &error);
  }
  munmap(p, length);
  return ok;
}

bool FitsLocked(Napi::Env env, uint64_t length) {
  if (length > declared || length > kAddressSpace) return false;
  if (length <= accepted) return true;
  if (length >= refused) return false;
  if (TryLength(env, length)) {
    accepted = length;
    return true;
  }
  refused = length;
  return false;
}

}  // namespace

void SetDeclaredArrayBufferLimit(uint64_t length) {
  std::lock_guard<std::mutex> lock(limits_mutex);
  declared = length;
}

bool ArrayBufferFits(Napi::Env env, uint64_t length) {
  std::lock_guard<std::mutex> lock(limits_mutex);
  return FitsLocked(env, length);
}

uint64_t LargestArrayBuffer(Napi::Env env) {
  std::lock_guard<std::mutex> lock(limits_mutex);
  const uint64_t page = PageSize();
  for (uint64_t length = std::min(declared, kAddressSpace) / page * page; length >= page;
       length = length / 2 / page * page)
    if (FitsLocked(env, length)) return length;
  return 0;
}

struct BufferHint {
  std::shared_ptr<BufferHold> hold;
  bool made = false;             // created: counted by the span
  bool detached_by_owner = false;  // and since uncounted
};

namespace {

void DeleteHint(napi_env, void*, void* data) {
  auto* hint = static_cast<BufferHint*>(data);
  if (hint->made && !hint->detached_by_owner) hint->hold->span->BufferGone();
  delete hint;
}

}  // namespace

Napi::ArrayBuffer NewExternalArrayBuffer(Napi::Env env, void* data, size_t length,
                                         const std::shared_ptr<BufferHold>& hold, BufferHint** hint_out) {
  if (!ArrayBufferFits(env, length))
    ThrowCode(env, "ERANGE", "a buffer of " + std::to_string(length) +
                                 " bytes exceeds this engine's ArrayBuffer limit of " +
                                 std::to_string(LargestArrayBuffer(env)));
  // The raw call, not node-addon-api's wrapper: on failure the engine may or
  // may not have run the finalizer, and the wrapper would then free its data
  // a second time. Here a failure can at worst leak the small hint.
  auto* hint = new BufferHint{hold};
  napi_value value = nullptr;
  napi_status status =
      napi_create_external_arraybuffer(env, data, length, DeleteHint, hint, &value);
  if (status != napi_ok) ThrowCode(env, "ENOMEM", "cannot create an external ArrayBuffer");
  hint->made = true;
  hold->span->BufferMade();
  *hint_out = hint;
  return Napi::ArrayBuffer(env, value);
}

OwnedBuffer::OwnedBuffer(Napi::ArrayBuffer ab, BufferHint* hint, bool strong)
    : ref_(Napi::Reference<Napi::ArrayBuffer>::New(ab, strong ? 1 : 0)), hint_(hint) {}

bool OwnedBuffer::DetachedElsewhere() const {
  if (ref_.IsEmpty()) return false;
  Napi::ArrayBuffer ab = ref_.Value();
  return !ab.IsEmpty() && ab.IsDetached();
}

void OwnedBuffer::Detach() {
  if (ref_.IsEmpty()) return;
  Napi::ArrayBuffer ab = ref_.Value();
  // Attached, the buffer still holds its memory, so its hint is alive; a
  // detached one was transferred (its memory and hint moved on) and a
  // collected one is being finalized: neither is ours to count.
  if (!ab.IsEmpty() && !ab.IsDetached()) {
    hint_->detached_by_owner = true;
    hint_->hold->span->BufferGone();
    ab.Detach();
  }
  ref_.Reset();
}

void ExternalWindows::Init(Napi::Env env, uint8_t* data, uint64_t length,
                           std::shared_ptr<BufferHold> hold) {
  data_ = data;
  length_ = length;
  hold_ = std::move(hold);
  if (ArrayBufferFits(env, length)) {
    window_ = length;
    stride_ = length;
  } else {
    // Smaller than `length`: every length at least that large was refused.
    window_ = LargestArrayBuffer(env);
    if (window_ < 2 * PageSize()) ThrowCode(env, "ENOMEM", "this engine creates no ArrayBuffer of two pages");
    stride_ = window_ / 2;
  }
  size_t count = length <= window_ ? 1 : static_cast<size_t>((length - window_ + stride_ - 1) / stride_) + 1;
  windows_.resize(count);
}

Napi::Value ExternalWindows::Get(Napi::Env env, size_t index) {
  if (detached_ || index >= windows_.size()) return env.Undefined();
  // A window JS detached (transfer() moved its memory to a new buffer, which
  // keeps the span reserved) is replaced by a fresh one.
  if (windows_[index].DetachedElsewhere()) windows_[index].Reset();
  if (windows_[index].IsEmpty()) {
    uint64_t start = index * stride_;
    uint64_t len = std::min(window_, length_ - start);
    BufferHint* hint = nullptr;
    Napi::ArrayBuffer ab = NewExternalArrayBuffer(env, data_ + start, len, hold_, &hint);
    windows_[index] = OwnedBuffer(ab, hint, true);
  }
  return windows_[index].Value();
}

Napi::Value ExternalWindows::Range(Napi::Env env, uint64_t offset, uint64_t length) {
  if (detached_) return env.Undefined();
  BufferHint* hint = nullptr;
  Napi::ArrayBuffer ab = NewExternalArrayBuffer(env, data_ + offset, length, hold_, &hint);
  ranges_.emplace_back(ab, hint, false);  // weak: only to detach
  return ab;
}

void ExternalWindows::Detach() {
  detached_ = true;
  for (auto* list : {&windows_, &ranges_})
    for (OwnedBuffer& buffer : *list) buffer.Detach();
  hold_.reset();
}

}  // namespace daxfs
