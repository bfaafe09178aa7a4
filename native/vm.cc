#include "vm.h"

#include <unistd.h>

#include <cerrno>

namespace daxfs {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

void* ReserveAligned(size_t length, size_t align) {
  if (align < PageSize()) align = PageSize();
  size_t span = length + align;
  if (span < length) {
    errno = ENOMEM;
    return nullptr;
  }
  void* raw = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + align - 1) & ~(uintptr_t{align} - 1);
  // Give back the slop on both sides so only [aligned, aligned + length) stays.
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = start + span;
  if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  return reinterpret_cast<void*>(aligned);
}

void* MapAligned(size_t length, size_t align, int prot, int flags, int fd, off_t offset) {
  void* where = ReserveAligned(length, align);
  if (where == nullptr) return nullptr;
  void* mapped = mmap(where, length, prot, flags | MAP_FIXED, fd, offset);
  if (mapped == MAP_FAILED) {
    int err = errno;
    munmap(where, length);
    errno = err;
    return nullptr;
  }
  return mapped;
}

int MakeInaccessible(void* addr, size_t length) {
  void* p = mmap(addr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0);
  return p == MAP_FAILED ? errno : 0;
}

}  // namespace daxfs
