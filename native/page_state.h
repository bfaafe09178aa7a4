// What each page (unit) of an MMU mapping currently points at, and a
// process-wide registry of mappings (and of the retired address spans of
// closed regions and released mappings) so that native I/O given a user
// buffer inside one can refuse pages that would fault (EFAULT) instead of
// crashing the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace daxfs {

enum class PageState : uint8_t {
  kNone = 0,       // reserved, inaccessible
  kZero = 1,       // the zero source (zero_source.h), read-only
  kBlockRead = 2,  // a region block, read-only
  kBlockWrite = 3, // a region block, read-write
  kPrivateRead = 4,   // a private anonymous copy, read-only
  kPrivateWrite = 5,  // a private anonymous copy, read-write
};
// The states are numbered 0..kLastPageState with no gap: the addon exports
// them by name (pageStates) so a test can hold the TypeScript table to these.
constexpr PageState kLastPageState = PageState::kPrivateWrite;

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
  // The memory of a closed region or a released mapping, still reserved
  // while a buffer over it may exist (address_span.h).
  bool retired = false;
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

// Whether [p, p + length) overlaps a live daxfs mapping. Such memory may show
// region blocks at other addresses than the region's own, so a copy between
// it and the region can overlap without its addresses saying so.
bool InMapping(const void* p, size_t length);

// In-flight asynchronous copies pin the two address ranges they touch (the
// user buffer and the region bytes). Changing a mapping's pages, or freeing
// pool blocks, first waits until no pin overlaps the range: a copy running on
// the thread pool must never meet a torn-down page, nor write a block that has
// been handed to another file. Copies are bounded, so the waits are too.
uint64_t Pin(const void* a, size_t a_length, const void* b, size_t b_length);
// Called on the worker thread when the copy is done.
void Unpin(uint64_t id);
// Blocks (the main thread) until no pin overlaps [p, p + length).
void WaitUnpinned(const void* p, size_t length);

}  // namespace daxfs
