// The address range behind a region's or a mapping's external ArrayBuffers.
//
// JavaScript can keep such memory beyond close(): on engines with
// ArrayBuffer.prototype.transfer, transfer() moves the memory of a buffer
// into a new one that close() never saw and so cannot detach. So the span
// counts the buffers that may still reach it: every buffer made over it,
// less those its owner detached while they still showed the memory (an
// attached buffer was never transferred: a transfer detaches its source)
// and those finalized. When the owner lets the memory go (Close) and none
// is left, the range is unmapped at once. Otherwise it is retired: every
// page replaced by inaccessible reserved address space (the file or device
// is let go), so a stray buffer faults instead of reading memory mapped
// there later, and the range is unmapped when the last of them is finalized.
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

  // A buffer over the span was created.
  void BufferMade() { reachable_++; }
  // A buffer stops reaching the span: detached by its owner while it still
  // showed the memory, or finalized without that (collected, or transferred
  // and the new buffer collected).
  void BufferGone();
  // The owner is done with the memory; idempotent.
  void Close();

 private:
  void Unmap();

  MappedRange range_;  // registered while retired: native I/O refuses it (EFAULT)
  uint64_t reachable_ = 0;  // the JS thread only: finalizers run there
  bool closed_ = false;
  bool unmapped_ = false;
};

}  // namespace daxfs
