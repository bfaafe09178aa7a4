// What each page (unit) of an MMU mapping currently points at, and a
// process-wide registry of mappings so that native I/O given a user buffer
// inside a mapping can refuse pages that would fault (EFAULT) instead of
// crashing the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace daxfs {

enum class PageState : uint8_t {
  kNone = 0,       // reserved, inaccessible
  kZero = 1,       // the shared zero page, read-only
  kBlockRead = 2,  // a region block, read-only
  kBlockWrite = 3, // a region block, read-write
  kPrivateRead = 4,   // a private anonymous copy, read-only
  kPrivateWrite = 5,  // a private anonymous copy, read-write
};

const char* PageStateName(PageState state);
inline bool Readable(PageState s) { return s != PageState::kNone; }
inline bool Writable(PageState s) {
  return s == PageState::kBlockWrite || s == PageState::kPrivateWrite;
}

// The address range and per-unit states of one mapping.
struct MappedRange {
  uintptr_t start = 0;
  size_t length = 0;
  size_t unit = 0;
  std::vector<PageState> states;
};

// Adds or removes a mapping; the registry holds a pointer, not a copy.
void RegisterRange(MappedRange* range);
void UnregisterRange(MappedRange* range);
// Updates the states of [first, first + count) units under the registry lock.
void SetStates(MappedRange* range, size_t first, size_t count, PageState state);

// Returns true when [p, p + length) may be accessed (read, or written when
// `write`) without faulting as far as daxfs mappings are concerned. On false,
// `*why` says which page of which mapping is in the way.
bool CheckUserBuffer(const void* p, size_t length, bool write, std::string* why);

}  // namespace daxfs
