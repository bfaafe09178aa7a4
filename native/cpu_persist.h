// CPU cache persistence primitives: detection of the cache-flush instructions
// the processor offers, flushing a byte range line by line, and the store
// fence that orders (and, on pmem, makes durable) what was flushed.
#pragma once

#include <cstddef>
#include <string>

namespace daxfs {

constexpr size_t kCacheLine = 64;

enum class FlushKind {
  kNone,        // nothing to flush (eADR: caches are in the persistence domain)
  kClflush,     // x86 CLFLUSH: serialising, evicts the line
  kClflushopt,  // x86 CLFLUSHOPT: weakly ordered, evicts the line
  kClwb,        // x86 CLWB: weakly ordered, may keep the line in cache
  kDcCvac,      // arm64 DC CVAC (clean to point of coherency)
};

struct CpuFlushSupport {
  bool clflush = false;
  bool clflushopt = false;
  bool clwb = false;
  bool dc_cvac = false;
};

// What this CPU supports (CPUID on x86-64).
CpuFlushSupport DetectCpuFlushSupport();

// The strongest-and-cheapest supported instruction, or `requested` (a name
// from FlushKindName) when it is supported. Unsupported or unknown requests
// leave the default and explain why in `*note`.
FlushKind ChooseFlush(const CpuFlushSupport& cpu, const std::string& requested,
                      std::string* note);

const char* FlushKindName(FlushKind kind);

// Writes back every cache line that overlaps [addr, addr + length). Returns
// the number of lines flushed.
size_t FlushRange(FlushKind kind, const void* addr, size_t length);

// Store fence: orders earlier flushes and non-temporal stores before later
// stores (SFENCE on x86-64, DSB on arm64).
void StoreFence();

}  // namespace daxfs
