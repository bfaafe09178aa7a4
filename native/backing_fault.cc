#include "backing_fault.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "errors.h"
#include "fault_sites.h"
#include "vm.h"

namespace daxfs {
namespace {

[[noreturn]] void Throw(Napi::Env env, const RegionCore& owner, uint64_t offset, bool known,
                        int code) {
  uint64_t size = 0;
  FaultCause cause = ClassifyFault(owner.fd, offset, known, code, &size);
  // The backing supplies whole pages: the page is what failed, and which
  // byte of it a copy touched first is the copy routine's business.
  std::string page = std::to_string(offset & ~(static_cast<uint64_t>(PageSize()) - 1));
  const std::string& path = owner.path;
  switch (cause) {
    case FaultCause::kNoSpace:
      ThrowSystemCondition(env, ENOSPC, "the file system holding '" + path +
                                            "' has no space to back the page at offset " + page,
                           path);
    case FaultCause::kTruncated:
      ThrowSystemCondition(env, EIO, "the backing file '" + path + "' was truncated to " +
                                         std::to_string(size) +
                                         " bytes under the region: the page at offset " + page +
                                         " is gone",
                           path);
    case FaultCause::kMedia:
      ThrowSystemCondition(env, EIO, "media error in the page at offset " + page + " of '" + path + "'",
                           path);
    case FaultCause::kDevice:
      ThrowSystemCondition(env, EIO, "the device '" + path + "' could not supply the page at offset " + page,
                           path);
    case FaultCause::kUnknown:
      break;
  }
  ThrowSystemCondition(env, EIO, "the backing '" + path +
                                     "' could not supply a page seen through a mapping (file system "
                                     "full or file truncated)",
                       path);
}

}  // namespace

void ThrowBackingFault(Napi::Env env, const RegionCore& c, uint64_t offset, int code) {
  Throw(env, c, offset, true, code);
}

void ThrowBusFault(Napi::Env env, const RegionCore& c, const BusFault& fault) {
  uintptr_t at = fault.address;
  if (RegionRange(c).Contains(at)) Throw(env, c, at - reinterpret_cast<uintptr_t>(c.mapped_), true, fault.code);
  FaultSite site;
  if (FindFaultSite(at, &site)) {
    uint64_t offset = 0;
    bool known = RegionOffsetAt(site, at, &offset);
    Throw(env, *site.core, offset, known, fault.code);
  }
  // A buffer of the call outside every region and mapping daxfs knows.
  char address[32];
  std::snprintf(address, sizeof(address), "0x%" PRIxPTR, at);
  ThrowSystemCondition(env, EIO, std::string("bus error at address ") + address +
                                     ": the memory of the buffer cannot be accessed",
                       "");
}

}  // namespace daxfs
