// mapZero and the bookkeeping of the zero source under a mapping
// (zero_source.h).
//
// A unit is backed by the zero source when the source is mapped there:
// readable (the zero state) or inaccessible (a torn-down page, the none
// state). Backed pages switch between zero and none with one mprotect, a
// fraction of what an mmap of a shared file costs. So the first zero fault
// that covers only part of a window of nothing but torn-down pages maps the
// source over the whole window, inaccessible, and makes the run readable;
// later ones in that window are an mprotect each. A run that covers its
// window whole, or lies in a window holding other things, is mapped readable
// directly, one mmap per window.
#include <sys/mman.h>

#include <algorithm>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "mmu.h"
#include "zero_source.h"

namespace daxfs {
namespace {

// The classes of Reservation::ZeroClass.
enum : uint8_t { kNotSource = 0, kSourceReadable = 1, kSourceHidden = 2 };

// One window's (or, for units larger than a window, one unit's) part of a
// mapZero: first map the source over [map_lo, map_hi) (readable or not),
// then make [read_lo, read_hi) readable. Either may be empty.
struct ZeroStep {
  uintptr_t map_lo = 0, map_hi = 0;
  bool map_readable = true;
  uintptr_t read_lo = 0, read_hi = 0;
};

std::vector<ZeroStep> Plan(const Reservation& r, uintptr_t lo, uintptr_t hi) {
  const MappedRange& m = r.range;
  uint64_t step = std::max<uint64_t>(m.unit, kZeroWindow);
  std::vector<ZeroStep> steps;
  for (uintptr_t a = lo; a < hi;) {
    uintptr_t b = std::min<uintptr_t>(hi, (a / step + 1) * step);
    size_t first = (a - m.start) / m.unit, count = (b - a) / m.unit;
    ZeroStep s;
    uintptr_t w_lo = std::max<uintptr_t>(m.start, a / kZeroWindow * kZeroWindow);
    uintptr_t w_hi = std::min<uintptr_t>(m.start + m.length, w_lo / kZeroWindow * kZeroWindow + kZeroWindow);
    size_t w_first = (w_lo - m.start) / m.unit, w_count = (w_hi - w_lo) / m.unit;
    if (r.AllBacked(first, count)) {
      s.read_lo = a, s.read_hi = b;
    } else if (!r.tp.uffd && m.unit < kZeroWindow && (a != w_lo || b != w_hi) &&
               r.AllState(w_first, w_count, PageState::kNone) &&
               std::none_of(r.zero_backed.begin() + w_first, r.zero_backed.begin() + w_first + w_count,
                            [](uint8_t x) { return x != 0; })) {
      s.map_lo = w_lo, s.map_hi = w_hi, s.map_readable = false;
      s.read_lo = a, s.read_hi = b;
    } else {
      s.map_lo = a, s.map_hi = b;
    }
    // mprotect spans VMAs: one call for neighbouring runs that need nothing else.
    bool read_only = s.map_lo == s.map_hi;
    if (read_only && !steps.empty() && steps.back().map_lo == steps.back().map_hi &&
        steps.back().read_hi == a)
      steps.back().read_hi = b;
    else
      steps.push_back(s);
    a = b;
  }
  return steps;
}

// Units [first, first + count) and one more on each side: a change inside
// affects only the pieces that reach into it, and those reach the edge units,
// which it leaves alone. Counting the pieces of this span before and after a
// change gives the change in the mapping's count exactly, in time
// proportional to the change.
void AffectedSpan(const MappedRange& m, size_t first, size_t count, size_t* span_first,
                  size_t* span_count) {
  *span_first = first > 0 ? first - 1 : 0;
  *span_count = std::min(first + count + 1, m.states.size()) - *span_first;
}

// Zero-source pieces the plan adds (or removes, when negative).
int64_t PiecesAdded(const Reservation& r, const std::vector<ZeroStep>& steps) {
  const MappedRange& m = r.range;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (const ZeroStep& s : steps) {
    if (s.map_lo < s.map_hi) lo = std::min(lo, s.map_lo), hi = std::max(hi, s.map_hi);
    if (s.read_lo < s.read_hi) lo = std::min(lo, s.read_lo), hi = std::max(hi, s.read_hi);
  }
  size_t span_first, span_count;
  AffectedSpan(m, (lo - m.start) / m.unit, (hi - lo) / m.unit, &span_first, &span_count);
  uintptr_t span_start = m.start + span_first * m.unit;
  uint64_t before = CountZeroPieces(span_start, m.unit, span_count,
                                    [&](size_t i) { return r.ZeroClass(span_first + i); });
  // The classes after the plan: steps are in address order, and so are
  // their ranges (a mapped window contains its readable run).
  size_t k = 0;
  uint64_t after = CountZeroPieces(span_start, m.unit, span_count, [&](size_t i) -> uint8_t {
    uintptr_t a = span_start + i * m.unit;
    while (k < steps.size() && std::max(steps[k].map_hi, steps[k].read_hi) <= a) k++;
    if (k < steps.size()) {
      const ZeroStep& s = steps[k];
      if (a >= s.read_lo && a < s.read_hi) return kSourceReadable;
      if (a >= s.map_lo && a < s.map_hi) return s.map_readable ? kSourceReadable : kSourceHidden;
    }
    return r.ZeroClass(span_first + i);
  });
  return static_cast<int64_t>(after) - static_cast<int64_t>(before);
}

}  // namespace

bool Reservation::AllBacked(size_t first, size_t count) const {
  return std::all_of(zero_backed.begin() + first, zero_backed.begin() + first + count,
                     [](uint8_t x) { return x != 0; });
}

bool Reservation::AllState(size_t first, size_t count, PageState state) const {
  return std::all_of(range.states.begin() + first, range.states.begin() + first + count,
                     [state](PageState s) { return s == state; });
}

void Reservation::Record(uint64_t offset, uint64_t length, PageState state, bool backed) {
  size_t first = offset / range.unit, count = length / range.unit;
  bool source = backed || std::any_of(zero_backed.begin() + first, zero_backed.begin() + first + count,
                                      [](uint8_t x) { return x != 0; });
  if (state != PageState::kBlockRead && state != PageState::kBlockWrite)
    std::fill(blocks.begin() + first, blocks.begin() + first + count, -1.0);
  if (!source) {
    SetStates(&range, first, count, state);
    return;
  }
  size_t span_first, span_count;
  AffectedSpan(range, first, count, &span_first, &span_count);
  uintptr_t span_start = range.start + span_first * range.unit;
  auto class_of = [&](size_t i) { return ZeroClass(span_first + i); };
  uint64_t before = CountZeroPieces(span_start, range.unit, span_count, class_of);
  SetStates(&range, first, count, state);
  std::fill(zero_backed.begin() + first, zero_backed.begin() + first + count, backed ? 1 : 0);
  uint64_t after = CountZeroPieces(span_start, range.unit, span_count, class_of);
  int64_t delta = static_cast<int64_t>(after) - static_cast<int64_t>(before);
  stats.zero_pieces += static_cast<uint64_t>(delta);
  AddZeroPieces(delta);
}

// mapZero(offset, length): the zero source, read-only.
Napi::Value Mapping::MapZero(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset, length;
  Reservation& r = CheckRun(info, 0, &offset, &length);
  uint64_t calls = r.stats.syscalls;
  const ZeroSource& z = GetZeroSource();
  if (z.fd < 0) ThrowErrno(env, z.err, z.failed_call, "creating the zero source");
  r.stats.map_zero++;
  uintptr_t start = r.range.start;
  std::vector<ZeroStep> steps = Plan(r, start + offset, start + offset + length);
  int64_t more = PiecesAdded(r, steps);
  uint64_t held = ZeroPieces(), limit = ZeroPieceLimit();
  if (more > 0 && held + static_cast<uint64_t>(more) > limit)
    ThrowCode(env, "ENOMEM",
              "showing zeros over mapping offsets " + std::to_string(offset) + " to " +
                  std::to_string(offset + length) + " needs " + std::to_string(more) +
                  " more zero-source VMAs; the process holds " + std::to_string(held) +
                  " and its zero-source limit is " + std::to_string(limit) +
                  " (vm.max_map_count is " + std::to_string(MaxMapCount()) + ")");
  for (const ZeroStep& s : steps) {
    if (s.map_lo < s.map_hi) {
      WaitUnpinned(reinterpret_cast<void*>(s.map_lo), s.map_hi - s.map_lo);
      FaultServiceLock lock;
      for (uintptr_t piece = s.map_lo; piece < s.map_hi;) {
        uintptr_t piece_end = std::min<uintptr_t>(s.map_hi, (piece / kZeroWindow + 1) * kZeroWindow);
        r.stats.syscalls++;
        void* p = mmap(reinterpret_cast<void*>(piece), piece_end - piece,
                       s.map_readable ? PROT_READ : PROT_NONE, MAP_SHARED | MAP_FIXED, z.fd,
                       static_cast<off_t>(piece % kZeroWindow));
        if (p == MAP_FAILED)
          FailMap(env, r, s.map_lo - start, s.map_hi - s.map_lo, errno, "mapping the zero source");
        piece = piece_end;
      }
      r.Record(s.map_lo - start, s.map_hi - s.map_lo,
               s.map_readable ? PageState::kZero : PageState::kNone, true);
    }
    if (s.read_lo < s.read_hi) {
      WaitUnpinned(reinterpret_cast<void*>(s.read_lo), s.read_hi - s.read_lo);
      FaultServiceLock lock;
      r.stats.syscalls++;
      // On failure the run stays none: pages it may have made readable are
      // the zero source, harmless to leave so.
      if (mprotect(reinterpret_cast<void*>(s.read_lo), s.read_hi - s.read_lo, PROT_READ) != 0)
        ThrowMapErrno(env, errno, "mprotect", "showing the zero source");
      r.Record(s.read_lo - start, s.read_hi - s.read_lo, PageState::kZero, true);
    }
  }
  return CallsSince(env, r, calls);
}

}  // namespace daxfs
