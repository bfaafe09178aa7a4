// The engine's zero source: one small sealed memfd per process, filled with
// zeros once, that every mapping maps read-only (MAP_SHARED) wherever it
// shows a hole. A hole then costs no memory whatever the kernel does with
// read faults on private anonymous memory (some kernels back them with their
// shared zero page, others give each page memory of its own).
//
// Each window-sized piece of it mapped somewhere is one kernel VMA, and a
// process has only vm.max_map_count of those: the pieces are counted here,
// process-wide, against a limit the TypeScript layer sets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>


namespace daxfs {

// Size of the memfd, and of the address windows it is mapped in: a piece
// mapped at address a shows file offset a % kZeroWindow, so neighbouring
// pieces inside one 2 MiB-aligned window merge into one VMA and an aligned
// window lines up with a huge fault.
constexpr uint64_t kZeroWindow = uint64_t{2} << 20;

struct ZeroSource {
  int fd = -1;
  int err = 0;  // errno of the step that failed (fd is -1 then)
  const char* failed_call = "";
  uint64_t bytes = 0;
  uint64_t dev_major = 0, dev_minor = 0, inode = 0;
  bool sealed = false;  // no writable mapping of it can ever exist
};

// Creates the memfd on first use (thread-safe); later calls return it.
const ZeroSource& GetZeroSource();

// Zero-source pieces (VMAs) over `count` units of `unit` bytes from address
// `start`, given each unit's class (`class_of(i)`): 0 where the source is not
// mapped, and one value per kind of VMA it is mapped in (readable,
// inaccessible). A piece is a maximal run of one class inside one
// kZeroWindow-aligned window.
template <typename ClassOf>
uint64_t CountZeroPieces(uintptr_t start, size_t unit, size_t count, ClassOf class_of) {
  uint64_t pieces = 0;
  for (size_t i = 0; i < count;) {
    uint8_t c = class_of(i);
    if (c == 0) {
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < count && class_of(j) == c) j++;
    uintptr_t lo = start + i * unit, hi = start + j * unit;
    pieces += (hi - 1) / kZeroWindow - lo / kZeroWindow + 1;
    i = j;
  }
  return pieces;
}

// The process-wide count of zero-source pieces, and its limit (no limit but
// the kernel's until one is set).
uint64_t ZeroPieces();
void AddZeroPieces(int64_t delta);
uint64_t ZeroPieceLimit();
void SetZeroPieceLimit(uint64_t limit);

// vm.max_map_count (0 when it cannot be read), read once.
uint64_t MaxMapCount();
// For an ENOMEM from mmap or mprotect: how many VMAs the process holds
// against vm.max_map_count, read now from /proc/self/maps.
std::string MapCountNote();

}  // namespace daxfs
