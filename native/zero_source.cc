#include "zero_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <vector>

namespace daxfs {
namespace {

std::atomic<uint64_t> zero_pieces{0};
std::atomic<uint64_t> zero_piece_limit{UINT64_MAX};

ZeroSource Fail(ZeroSource z, const char* call) {
  z.err = errno;
  z.failed_call = call;
  if (z.fd >= 0) close(z.fd);
  z.fd = -1;
  return z;
}

// Fills every page of the file with real (zeroed) memory: a read fault on a
// hole of a shared shmem mapping would allocate a page per mapping fault.
bool Fill(int fd, uint64_t bytes) {
  if (fallocate(fd, 0, 0, static_cast<off_t>(bytes)) == 0) return true;
  std::vector<char> zeros(64 * 1024, 0);
  for (uint64_t off = 0; off < bytes; off += zeros.size()) {
    ssize_t n = pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(off));
    if (n != static_cast<ssize_t>(zeros.size())) {
      if (n >= 0) errno = EIO;
      return false;
    }
  }
  return true;
}

ZeroSource Create() {
  ZeroSource z;
  z.bytes = kZeroWindow;
  z.fd = memfd_create("daxfs-zero", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (z.fd < 0) return Fail(z, "memfd_create");
  if (ftruncate(z.fd, static_cast<off_t>(z.bytes)) != 0) return Fail(z, "ftruncate");
  if (!Fill(z.fd, z.bytes)) return Fail(z, "fallocate");
  // Sealed against writes, nothing can ever store into the zeros every
  // hole shows: a mapping of it cannot be made writable, not even by mprotect.
  z.sealed = fcntl(z.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0;
  struct stat st;
  if (fstat(z.fd, &st) != 0) return Fail(z, "fstat");
  z.dev_major = major(st.st_dev);
  z.dev_minor = minor(st.st_dev);
  z.inode = st.st_ino;
  return z;
}

}  // namespace

const ZeroSource& GetZeroSource() {
  // A function-local static: initialised once, thread-safe, without
  // std::call_once (whose pthread_once would raise the glibc a prebuild needs).
  static const ZeroSource source = Create();
  return source;
}

uint64_t ZeroPieces() { return zero_pieces.load(std::memory_order_relaxed); }

void AddZeroPieces(int64_t delta) {
  zero_pieces.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
}

uint64_t ZeroPieceLimit() { return zero_piece_limit.load(std::memory_order_relaxed); }

void SetZeroPieceLimit(uint64_t limit) { zero_piece_limit.store(limit, std::memory_order_relaxed); }

uint64_t MaxMapCount() {
  static const uint64_t value = [] {
    unsigned long long n = 0;
    FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r");
    if (f == nullptr) return uint64_t{0};
    if (std::fscanf(f, "%llu", &n) != 1) n = 0;
    std::fclose(f);
    return static_cast<uint64_t>(n);
  }();
  return value;
}

std::string MapCountNote() {
  uint64_t held = 0;
  if (FILE* f = std::fopen("/proc/self/maps", "r")) {
    int c;
    while ((c = std::fgetc(f)) != EOF)
      if (c == '\n') held++;
    std::fclose(f);
  }
  std::string limit = MaxMapCount() ? std::to_string(MaxMapCount()) : std::string("unknown");
  return "the process holds " + std::to_string(held) +
         " memory mappings (VMAs); its limit, vm.max_map_count, is " + limit;
}

}  // namespace daxfs
