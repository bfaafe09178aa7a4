#include "page_state.h"

#include "copy_queue.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

namespace daxfs {
namespace {

std::mutex registry_mutex;
// Mappings and retired spans by start address. They never overlap (each is
// its own address reservation), so the ones a buffer touches are found in O(log n): the I/O
// check below runs on every read and write while any mapping exists, and
// must not grow with the number of unrelated mappings.
std::map<uintptr_t, MappedRange*>& Registry() {
  static std::map<uintptr_t, MappedRange*> ranges;
  return ranges;
}
// Lets the common case (no mapping exists) skip the lock entirely.
std::atomic<size_t> registry_size{0};

struct PinEntry {
  uint64_t id;
  uintptr_t a_begin, a_end, b_begin, b_end;
};
std::mutex pin_mutex;
std::condition_variable pin_released;
std::vector<PinEntry> pins;
uint64_t next_pin = 1;

bool Overlaps(uintptr_t b1, uintptr_t e1, uintptr_t b2, uintptr_t e2) { return b1 < e2 && b2 < e1; }

}  // namespace

const char* PageStateName(PageState state) {
  switch (state) {
    case PageState::kNone: return "none";
    case PageState::kZero: return "zero";
    case PageState::kBlockRead: return "block-read";
    case PageState::kBlockWrite: return "block-write";
    case PageState::kPrivateRead: return "private-read";
    case PageState::kPrivateWrite: return "private-write";
  }
  return "none";
}

void RegisterRange(MappedRange* range) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  Registry()[range->start] = range;
  registry_size.store(Registry().size(), std::memory_order_release);
}

void UnregisterRange(MappedRange* range) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& ranges = Registry();
  auto it = ranges.find(range->start);
  if (it != ranges.end() && it->second == range) ranges.erase(it);
  registry_size.store(ranges.size(), std::memory_order_release);
}

void SetStates(MappedRange* range, size_t first, size_t count, PageState state) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::fill(range->states.begin() + first, range->states.begin() + first + count, state);
}

// Calls visit(range, begin, end) under the registry lock for every mapping
// that overlaps [begin, end), in address order, until visit returns false.
// Returns false when a visit did.
template <typename Visit>
bool ForEachOverlapping(uintptr_t begin, uintptr_t end, Visit visit) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& ranges = Registry();
  // The last mapping starting at or before `begin` may reach into the
  // buffer; then every one starting before `end`.
  auto it = ranges.upper_bound(begin);
  if (it != ranges.begin()) --it;
  for (; it != ranges.end() && it->first < end; ++it) {
    const MappedRange* range = it->second;
    if (end <= range->start || begin >= range->start + range->length) continue;
    if (!visit(*range)) return false;
  }
  return true;
}

bool CheckUserBuffer(const void* p, size_t length, bool write, std::string* why) {
  if (length == 0 || registry_size.load(std::memory_order_acquire) == 0) return true;
  uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  uintptr_t end = begin + length;
  return ForEachOverlapping(begin, end, [&](const MappedRange& range) {
    if (range.retired) {
      *why = "the buffer lies in the memory of a closed daxfs region or released mapping";
      return false;
    }
    uintptr_t r_end = range.start + range.length;
    size_t first = (std::max(begin, range.start) - range.start) / range.unit;
    size_t last = (std::min(end, r_end) - 1 - range.start) / range.unit;
    for (size_t i = first; i <= last; i++) {
      PageState s = range.states[i];
      if (write ? Writable(s) : Readable(s)) continue;
      *why = std::string("the buffer lies in a daxfs mapping whose page at mapping offset ") +
             std::to_string(i * range.unit) + " is " + PageStateName(s) + ", not " +
             (write ? "writable" : "readable") + "; fault it in first";
      return false;
    }
    return true;
  });
}

bool InMapping(const void* p, size_t length) {
  if (length == 0 || registry_size.load(std::memory_order_acquire) == 0) return false;
  uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  // a live mapping stops the walk: false from the walk means "found one"
  return !ForEachOverlapping(begin, begin + length, [](const MappedRange& range) { return range.retired; });
}

uint64_t Pin(const void* a, size_t a_length, const void* b, size_t b_length) {
  auto ua = reinterpret_cast<uintptr_t>(a);
  auto ub = reinterpret_cast<uintptr_t>(b);
  std::lock_guard<std::mutex> lock(pin_mutex);
  uint64_t id = next_pin++;
  pins.push_back({id, ua, ua + a_length, ub, ub + b_length});
  return id;
}

void Unpin(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(pin_mutex);
    pins.erase(std::remove_if(pins.begin(), pins.end(), [id](const PinEntry& e) { return e.id == id; }),
               pins.end());
  }
  pin_released.notify_all();
}

void WaitUnpinned(const void* p, size_t length) {
  if (length == 0) return;
  auto begin = reinterpret_cast<uintptr_t>(p);
  uintptr_t end = begin + length;
  auto unpinned = [&] {
    for (const PinEntry& e : pins)
      if (Overlaps(begin, end, e.a_begin, e.a_end) || Overlaps(begin, end, e.b_begin, e.b_end))
        return false;
    return true;
  };
  {
    std::lock_guard<std::mutex> lock(pin_mutex);
    if (unpinned()) return;
  }
  // A copy this thread waits for may still be queued for this very thread
  // (copy_queue.h): it runs here first, or the wait would never end.
  RunQueuedCopiesHere();
  std::unique_lock<std::mutex> lock(pin_mutex);
  pin_released.wait(lock, unpinned);
}

}  // namespace daxfs
