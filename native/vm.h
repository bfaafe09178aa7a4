// Small wrappers over mmap for placing mappings at aligned addresses.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace daxfs {

size_t PageSize();

// Reserves `length` bytes of address space aligned to `align` (a power of two
// >= the page size), inaccessible and without commit charge. Returns nullptr
// and sets errno on failure.
void* ReserveAligned(size_t length, size_t align);

// Maps `fd` at an address aligned to `align`: reserves, maps over the
// reservation with MAP_FIXED and trims. Returns nullptr and sets errno on
// failure (nothing stays mapped then).
void* MapAligned(size_t length, size_t align, int prot, int flags, int fd, off_t offset);

// Replaces [addr, addr + length) by inaccessible, uncommitted address space
// that stays reserved. Returns 0 or an errno.
int MakeInaccessible(void* addr, size_t length);

}  // namespace daxfs
