// The backing's storage behind a region: reserving it ahead of use, and how
// much of it the file system has allocated. A store to a page the backing's
// file system cannot supply (a sparse file on a full file system) faults;
// reserving first turns that into ENOSPC from a system call.
#pragma once

#include <napi.h>

#include <cstdint>

#include "region_core.h"

namespace daxfs {

// fallocate(2) of [offset, offset + length) of the backing file, keeping its
// size: afterwards no store there can fail for want of space. Device-dax is
// device memory, always there: nothing to do. EOPNOTSUPP where the file
// system cannot reserve (the caller decides what that means).
void RegionReserve(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length);

// Fills the page tables of [offset, offset + length) (whole pages) for
// writing ahead of use, with madvise(MADV_POPULATE_WRITE) (Linux 5.14), so
// that the stores which follow take no first-touch fault. On a hole of a
// sparse backing this allocates the hole: callers populate only what is
// reserved. Returns false when the kernel does not know the advice (the
// pages then fault on first touch, as without it); EROFS for a read-only
// region.
bool RegionPopulate(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length);

// The offset of the first unallocated byte of the backing at or after
// `offset` (lseek SEEK_HOLE; the size when there is none). [offset, result)
// is backed: stores there cannot fault for want of space.
uint64_t RegionBackedUntil(Napi::Env env, RegionCore& c, uint64_t offset);

// In a private copy (a read-only open mapped MAP_PRIVATE): the pages of
// [offset, offset + length) that are holes of the backing become anonymous
// zero pages first. They read the same (a hole reads as zeros), and a store
// to them then needs no page from the backing's file system — tmpfs
// allocates one even for a private copy, and a full one cannot.
void PrivatizeHoles(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length);

// Bytes the file system has allocated to the backing (st_blocks * 512; the
// whole size for device-dax).
uint64_t RegionBackedBytes(Napi::Env env, RegionCore& c);

}  // namespace daxfs
