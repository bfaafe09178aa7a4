#include "region_space.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "args.h"
#include "errors.h"
#include "region_io.h"
#include "vm.h"

namespace daxfs {

void RegionReserve(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length) {
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  if (c.read_only) ThrowCode(env, "EROFS", "the region is open read-only");
  if (length == 0 || c.devdax) return;
  int rc;
  do {
    rc = fallocate(c.fd, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0)
    ThrowErrno(env, errno, "fallocate",
               "reserving " + std::to_string(length) + " bytes at offset " + std::to_string(offset),
               c.path);
}

bool RegionPopulate(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length) {
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  const uint64_t page = PageSize();
  CheckAligned(env, offset, page, "offset");
  CheckAligned(env, length, page, "length");
  if (c.read_only) ThrowCode(env, "EROFS", "the region is open read-only");
  if (length == 0) return true;
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // older headers than the kernels that have it
#endif
  int rc;
  do {
    rc = madvise(c.base() + offset, static_cast<size_t>(length), MADV_POPULATE_WRITE);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return true;
  if (errno == EINVAL) return false;  // a kernel before 5.14: the advice is unknown
  ThrowErrno(env, errno, "madvise",
             "populating " + std::to_string(length) + " bytes at offset " + std::to_string(offset), c.path);
}

uint64_t RegionBackedUntil(Napi::Env env, RegionCore& c, uint64_t offset) {
  if (offset >= c.size)
    ThrowCode(env, "ERANGE", "offset " + std::to_string(offset) + " must be below the region size " + std::to_string(c.size));
  if (c.devdax) return c.size;
  off_t hole = lseek(c.fd, static_cast<off_t>(offset), SEEK_HOLE);
  if (hole < 0) ThrowErrno(env, errno, "lseek", "finding the backing's next hole", c.path);
  return static_cast<uint64_t>(hole) < c.size ? static_cast<uint64_t>(hole) : c.size;
}

void PrivatizeHoles(Napi::Env env, RegionCore& c, uint64_t offset, uint64_t length) {
  if (!c.private_copy || length == 0) return;
  const uint64_t page = PageSize();
  for (uint64_t at = offset / page * page; at < offset + length; at += page) {
    off_t data = lseek(c.fd, static_cast<off_t>(at), SEEK_DATA);
    if (data == static_cast<off_t>(at)) continue;  // backed: copy-on-write as usual
    if (data < 0 && errno != ENXIO) ThrowErrno(env, errno, "lseek", "finding the backing's data", c.path);
    void* p = mmap(c.mapped_ + at, page, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap", "giving a hole of the private copy a page of its own", c.path);
  }
}

uint64_t RegionBackedBytes(Napi::Env env, RegionCore& c) {
  if (c.devdax) return c.size;
  struct stat st;
  if (fstat(c.fd, &st) != 0) ThrowErrno(env, errno, "fstat", "reading the backing's allocation", c.path);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace daxfs
