// Which region or MMU mapping an address belongs to, and why its backing
// could not supply a page: what the SIGBUS handler says before the process
// ends, and what a caught fault's error says. Everything here is
// async-signal-safe: a fixed table of address ranges read without locks,
// /proc/self/maps read with plain system calls, fstat.
#pragma once

#include <cstddef>
#include <cstdint>

namespace daxfs {

class RegionCore;

// A region's own mapping, or an MMU mapping made from it (`mapping`). The
// core must outlive the entry. A range that finds no room in the table
// (thousands are live) is only left unnamed.
void AddFaultSite(const void* start, size_t length, const RegionCore* core, bool mapping);
void RemoveFaultSite(const void* start);
// What the mapping at `start` shows (which file, what kind of mapping), for
// the fatal lines; set before its memory is handed out. Cut to fit.
void SetFaultSiteLabel(const void* start, const char* label, size_t length);
// The offset in the mapping at `start` from which its pages lie wholly
// past the end of the file it shows (UINT64_MAX, the default: none do).
void SetFaultSiteEnd(const void* start, uint64_t offset);

struct FaultSite {
  const RegionCore* core = nullptr;
  uintptr_t begin = 0;  // of the region's mapping or of the MMU mapping
  bool mapping = false;
  // SetFaultSiteEnd's offset (UINT64_MAX: none set).
  uint64_t end_offset = UINT64_MAX;
};

// The region or mapping holding `address`.
bool FindFaultSite(uintptr_t address, FaultSite* site);

// The offset in the region that `address` shows: directly in the region's
// own range; in a mapping, from the kernel's record of the mapped run (its
// file offset), when that run is the region's file. False when not known.
bool RegionOffsetAt(const FaultSite& site, uintptr_t address, uint64_t* offset);

enum class FaultCause {
  kNoSpace,    // a regular file, the offset inside it: nothing to hold the page
  kTruncated,  // a regular file that now ends at or before the offset
  kMedia,      // the machine reported a memory (media) error
  kDevice,     // a device that could not supply the page
  kUnknown,    // the offset is not known
};

// Why `fd`'s backing could not supply `offset`, given the signal's si_code;
// `*size` gets the file's size for kTruncated.
FaultCause ClassifyFault(int fd, uint64_t offset, bool offset_known, int code, uint64_t* size);

// Writes one line on stderr naming what the fault at `address` hit; false
// (nothing written) when the address is no region's or mapping's.
bool ReportFatalFault(uintptr_t address, int code);

// Writes one line on stderr for an access to a mapping the fault service
// could not serve (the process then ends by SIGBUS): what was hit, and
// `cause` (with `err` when not 0).
void ReportUnservedFault(uintptr_t address, bool write, const char* cause, int err);

enum class AccessFault {
  kNotOurs,    // no mapping's address: nothing written
  kBadAccess,  // a page the mapping does not give that access: SIGSEGV
  kPastEnd,    // a page wholly past the end of the file: SIGBUS, as the kernel raises
};

// Writes one line on stderr for a SIGSEGV at `address` inside an MMU
// mapping (a load, or a store when `write`) that the fault service could
// not serve (`served`: the mapping serves faults, so only a store into a
// read-only mapping, or a page past EOF, gets here): what was hit, and what
// to do instead; says which signal the process is to end with.
AccessFault ReportAccessFault(uintptr_t address, bool write, bool served);

}  // namespace daxfs
