#include "address_span.h"

#include <sys/mman.h>

#include "vm.h"

namespace daxfs {

AddressSpan::AddressSpan(void* start, size_t length) {
  range_.start = reinterpret_cast<uintptr_t>(start);
  range_.length = length;
}

AddressSpan::~AddressSpan() { Unmap(); }

void AddressSpan::BufferGone() {
  if (reachable_ > 0) reachable_--;
  if (closed_ && reachable_ == 0) Unmap();
}

void AddressSpan::Close() {
  if (closed_) return;
  closed_ = true;
  if (reachable_ == 0) {
    Unmap();
    return;
  }
  void* start = reinterpret_cast<void*>(range_.start);
  // One anonymous mapping over the whole range also ends the file mapping.
  // Should the kernel refuse it (out of memory for its own bookkeeping),
  // removing access still keeps every stray buffer from reading anything.
  if (MakeInaccessible(start, range_.length) != 0) mprotect(start, range_.length, PROT_NONE);
  // One unit covering the whole range: every byte of it is inaccessible.
  range_.unit = range_.length;
  range_.states.assign(1, PageState::kNone);
  range_.retired = true;
  RegisterRange(&range_);
}

void AddressSpan::Unmap() {
  if (unmapped_) return;
  unmapped_ = true;
  if (range_.retired) UnregisterRange(&range_);
  munmap(reinterpret_cast<void*>(range_.start), range_.length);
}

}  // namespace daxfs
