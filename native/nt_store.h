// Non-temporal (cache-bypassing) copy and zero. Stores that bypass the cache
// need no flush to reach the persistence domain, only a store fence, and they
// do not evict the working set when a large range is written to pmem.
#pragma once

#include <cstddef>

namespace daxfs {

// Copies `length` bytes. The 64-byte aligned body of `dst` is written with
// non-temporal stores; the unaligned head and tail (less than a cache line
// each) are written with ordinary stores. `*head` and `*tail` receive the
// byte counts of those parts, which the caller must flush to persist them.
void NtCopy(void* dst, const void* src, size_t length, size_t* head, size_t* tail);

// Zeroes `length` bytes with the same split as NtCopy.
void NtZero(void* dst, size_t length, size_t* head, size_t* tail);

}  // namespace daxfs
