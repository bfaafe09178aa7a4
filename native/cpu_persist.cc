#include "cpu_persist.h"

#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace daxfs {
namespace {

#if defined(__x86_64__)
// Each flush instruction lives in its own function compiled for the
// instruction set that has it, so the addon builds for baseline x86-64 and
// only executes what CPUID reported.
__attribute__((target("clflushopt"))) void FlushLinesClflushopt(uintptr_t p, uintptr_t end) {
  for (; p < end; p += kCacheLine) _mm_clflushopt(reinterpret_cast<void*>(p));
}
__attribute__((target("clwb"))) void FlushLinesClwb(uintptr_t p, uintptr_t end) {
  for (; p < end; p += kCacheLine) _mm_clwb(reinterpret_cast<void*>(p));
}
void FlushLinesClflush(uintptr_t p, uintptr_t end) {
  for (; p < end; p += kCacheLine) _mm_clflush(reinterpret_cast<void*>(p));
}
#endif

#if defined(__aarch64__)
void FlushLinesDcCvac(uintptr_t p, uintptr_t end) {
  for (; p < end; p += kCacheLine) asm volatile("dc cvac, %0" ::"r"(p) : "memory");
}
#endif

}  // namespace

CpuFlushSupport DetectCpuFlushSupport() {
  CpuFlushSupport cpu;
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) cpu.clflush = (edx >> 19) & 1;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    cpu.clflushopt = (ebx >> 23) & 1;
    cpu.clwb = (ebx >> 24) & 1;
  }
#elif defined(__aarch64__)
  cpu.dc_cvac = true;
#endif
  return cpu;
}

const char* FlushKindName(FlushKind kind) {
  switch (kind) {
    case FlushKind::kNone: return "none";
    case FlushKind::kClflush: return "clflush";
    case FlushKind::kClflushopt: return "clflushopt";
    case FlushKind::kClwb: return "clwb";
    case FlushKind::kDcCvac: return "dc-cvac";
  }
  return "none";
}

FlushKind ChooseFlush(const CpuFlushSupport& cpu, const std::string& requested,
                      std::string* note) {
  FlushKind best = FlushKind::kNone;
  if (cpu.dc_cvac) best = FlushKind::kDcCvac;
  if (cpu.clflush) best = FlushKind::kClflush;
  if (cpu.clflushopt) best = FlushKind::kClflushopt;
  if (cpu.clwb) best = FlushKind::kClwb;
  if (requested.empty()) return best;

  struct Option {
    const char* name;
    FlushKind kind;
    bool supported;
  };
  const Option options[] = {
      {"clwb", FlushKind::kClwb, cpu.clwb},
      {"clflushopt", FlushKind::kClflushopt, cpu.clflushopt},
      {"clflush", FlushKind::kClflush, cpu.clflush},
      {"dc-cvac", FlushKind::kDcCvac, cpu.dc_cvac},
  };
  for (const Option& option : options) {
    if (requested != option.name) continue;
    if (option.supported) return option.kind;
    *note = "requested flush instruction '" + requested + "' is not supported by this CPU; using " +
            FlushKindName(best);
    return best;
  }
  *note = "unknown flush instruction '" + requested +
          "' (expected clwb, clflushopt, clflush or dc-cvac); using " + FlushKindName(best);
  return best;
}

size_t FlushRange(FlushKind kind, const void* addr, size_t length) {
  if (length == 0 || kind == FlushKind::kNone) return 0;
  uintptr_t start = reinterpret_cast<uintptr_t>(addr) & ~(uintptr_t{kCacheLine} - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(addr) + length;
  switch (kind) {
#if defined(__x86_64__)
    case FlushKind::kClwb: FlushLinesClwb(start, end); break;
    case FlushKind::kClflushopt: FlushLinesClflushopt(start, end); break;
    case FlushKind::kClflush: FlushLinesClflush(start, end); break;
#endif
#if defined(__aarch64__)
    case FlushKind::kDcCvac: FlushLinesDcCvac(start, end); break;
#endif
    default: return 0;
  }
  return (end - start + kCacheLine - 1) / kCacheLine;
}

void StoreFence() {
#if defined(__x86_64__)
  _mm_sfence();
#elif defined(__aarch64__)
  asm volatile("dsb ish" ::: "memory");
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

}  // namespace daxfs
