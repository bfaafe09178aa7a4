// The address range behind a region's or a mapping's external ArrayBuffers.
//
// JavaScript can keep such memory beyond close(): on engines with
// ArrayBuffer.prototype.transfer, transfer() moves the memory of a buffer
// into a new one that close() never saw and so cannot detach. Closing
// therefore never gives the addresses back: Retire() replaces whatever is
// mapped there by inaccessible reserved address space (the file or device
// is let go), so such a buffer faults instead of reading memory that is
// mapped there later, and the range is unmapped only when the last owner of
// the span is gone — every buffer over it holds one until it is finalized.
#pragma once

#include <cstddef>
#include <cstdint>

#include "page_state.h"

namespace daxfs {

class AddressSpan {
 public:
  AddressSpan(void* start, size_t length);
  ~AddressSpan();
  AddressSpan(const AddressSpan&) = delete;
  AddressSpan& operator=(const AddressSpan&) = delete;

  // Makes the whole range inaccessible and uncommitted, still reserved, and
  // registers it as retired so that native I/O refuses buffers inside it
  // (EFAULT) rather than faulting on them. Idempotent.
  void Retire();

 private:
  MappedRange range_;
  bool retired_ = false;
};

}  // namespace daxfs
