// Non-temporal (cache-bypassing) copy and zero. Stores that bypass the cache
// need no flush to reach the persistence domain, only a store fence, and they
// do not evict the working set when a large range is written to pmem.
#pragma once

#include <cstddef>
#include <cstdint>

namespace daxfs {

// Copies `length` bytes. The 64-byte aligned body of `dst` is written with
// non-temporal stores; the unaligned head and tail (less than a cache line
// each) are written with ordinary stores. `*head` and `*tail` receive the
// byte counts of those parts, which the caller must flush to persist them.
void NtCopy(void* dst, const void* src, size_t length, size_t* head, size_t* tail);

// Copies `length` bytes with non-temporal stores only: whole lines as
// NtCopy does, the partial lines at either end 8 bytes at a time. Needs an
// 8-byte aligned `dst` and a multiple of 8 bytes; returns false, having
// written nothing, where that is not so or the CPU has no streaming stores
// (the caller then copies and flushes).
bool NtCopyWords(void* dst, const void* src, size_t length);

// One 8-byte aligned word stored non-temporally (a single store: no reader
// and no crash sees half of it); false, nothing written, where not possible.
bool NtStoreWord(void* dst, uint64_t value);

// Zeroes `length` bytes with the same split as NtCopy.
void NtZero(void* dst, size_t length, size_t* head, size_t* tail);

}  // namespace daxfs
