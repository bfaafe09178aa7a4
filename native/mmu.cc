#include "mmu.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "addon_data.h"
#include "args.h"
#include "backing_fault.h"
#include "errors.h"
#include "fault_sites.h"
#include "region.h"
#include "uffd_service.h"
#include "vm.h"
#include "zero_source.h"

namespace daxfs {
namespace {

constexpr uint64_t kHugeAlign = uint64_t{2} << 20;

uint8_t* Addr(const Reservation& r, uint64_t offset) {
  return reinterpret_cast<uint8_t*>(r.range.start + offset);
}

uint64_t NextPowerOfTwo(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

void ThrowMapErrno(Napi::Env env, int err, const char* syscall, const std::string& what) {
  ThrowErrno(env, err, syscall, err == ENOMEM ? what + "; " + MapCountNote() : what);
}

Reservation::~Reservation() { Release(); }

int Reservation::ShowNothing(uint64_t offset, uint64_t length) {
  void* at = Addr(*this, offset);
  if (tp.uffd) return ShowMissing(at, static_cast<size_t>(length));
  return MakeInaccessible(at, static_cast<size_t>(length));
}

void Reservation::Release() {
  if (released) return;
  {
    // The fault service finds reservations in this list: it never meets
    // one being released.
    FaultServiceLock lock;
    released = true;
    auto& list = region->mappings;
    list.erase(std::remove(list.begin(), list.end(), this), list.end());
  }
  buffer.Detach();
  UnregisterRange(&range);
  RemoveFaultSite(reinterpret_cast<void*>(range.start));
  WaitUnpinned(reinterpret_cast<void*>(range.start), range.length);
  span->Close();
  span.reset();
  AddZeroPieces(-static_cast<int64_t>(stats.zero_pieces));
  stats.zero_pieces = 0;
  region.reset();
}

Napi::Function Mapping::Init(Napi::Env env) {
  return DefineClass(env, "Mapping",
                     {
                         InstanceMethod<&Mapping::MapBlocks>("mapBlocks"),
                         InstanceMethod<&Mapping::MapZero>("mapZero"),
                         InstanceMethod<&Mapping::MapPrivate>("mapPrivate"),
                         InstanceMethod<&Mapping::Protect>("protect"),
                         InstanceMethod<&Mapping::Unmap>("unmap"),
                         InstanceMethod<&Mapping::Release>("release"),
                         InstanceMethod<&Mapping::Buffer>("buffer"),
                         InstanceMethod<&Mapping::States>("states"),
                         InstanceMethod<&Mapping::KernelView>("kernelView"),
                         InstanceMethod<&Mapping::Stats>("stats"),
                         InstanceMethod<&Mapping::Info>("info"),
                         InstanceMethod<&Mapping::SetLabel>("setLabel"),
                         InstanceMethod<&Mapping::SetEndOfFile>("setEndOfFile"),
                         InstanceMethod<&Mapping::Tables>("tables"),
                         InstanceMethod<&Mapping::Publish>("publish"),
                         InstanceMethod<&Mapping::RetargetJs>("retarget"),
                         InstanceMethod<&Mapping::ServedStats>("servedStats"),
                     });
}

// new Mapping(region, length)
Mapping::Mapping(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mapping>(info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!info[0].IsObject() ||
      !info[0].As<Napi::Object>().InstanceOf(data->region_constructor.Value()))
    ThrowCode(env, "EINVAL", "region must be a Region");
  Region* region = Napi::ObjectWrap<Region>::Unwrap(info[0].As<Napi::Object>());
  std::shared_ptr<RegionCore> core = region->OpenCore(env);
  uint64_t length = ArgIndex(info, 1, "length");
  uint64_t unit = std::max<uint64_t>(core->align, PageSize());
  if (length == 0) ThrowCode(env, "EINVAL", "length must be at least 1");
  CheckAligned(env, length, unit, "length");
  if (length > (uint64_t{1} << 47)) ThrowCode(env, "EINVAL", "length is larger than the address space");
  // One ArrayBuffer covers the whole mapping: the engine's limit applies.
  if (!ArrayBufferFits(env, length))
    ThrowCode(env, "EINVAL", "length " + std::to_string(length) +
                                 " is larger than this engine's ArrayBuffer limit (" +
                                 std::to_string(LargestArrayBuffer(env)) + " bytes)");

  // 2 MiB aligned from 2 MiB up (huge faults); below, aligned to the length
  // rounded up to a power of two, so that the range lies inside one window
  // of the zero source and a hole over all of it is one VMA.
  uint64_t align = std::max(unit, std::min(kHugeAlign, NextPowerOfTwo(length)));
  void* base = ReserveAligned(static_cast<size_t>(length), static_cast<size_t>(align));
  if (base == nullptr) ThrowErrno(env, errno, "mmap", "reserving the mapping's address range");

  res_ = std::make_shared<Reservation>();
  res_->span = std::make_shared<AddressSpan>(base, static_cast<size_t>(length));
  res_->region = core;
  res_->range.start = reinterpret_cast<uintptr_t>(base);
  res_->range.length = static_cast<size_t>(length);
  res_->range.unit = static_cast<size_t>(unit);
  res_->range.states.assign(static_cast<size_t>(length / unit), PageState::kNone);
  res_->zero_backed.assign(static_cast<size_t>(length / unit), 0);
  res_->blocks.assign(static_cast<size_t>(length / unit), -1);
  res_->tp.targets.assign(static_cast<size_t>(length / unit), -1);
  res_->stats.syscalls = 1;
  RegisterRange(&res_->range);
  AddFaultSite(base, static_cast<size_t>(length), core.get(), true);
  {
    FaultServiceLock lock;
    core->mappings.push_back(res_.get());
  }

  BufferHint* hint = nullptr;
  Napi::ArrayBuffer ab = NewExternalArrayBuffer(
      env, base, static_cast<size_t>(length),
      std::make_shared<BufferHold>(BufferHold{res_, res_->span}), &hint);
  buffer_ = Napi::Reference<Napi::ArrayBuffer>::New(ab, 1);
  res_->buffer = OwnedBuffer(ab, hint, false);
}

Reservation& Mapping::Open(Napi::Env env) {
  if (!res_ || res_->released) ThrowCode(env, "EBADF", "the mapping is released");
  return *res_;
}

Reservation& Mapping::CheckRun(const Napi::CallbackInfo& info, size_t index, uint64_t* offset,
                               uint64_t* length) {
  Napi::Env env = info.Env();
  Reservation& r = Open(env);
  *offset = ArgIndex(info, index, "offset");
  *length = ArgIndex(info, index + 1, "length");
  if (*length == 0) ThrowCode(env, "EINVAL", "length must be at least 1");
  CheckAligned(env, *offset, r.range.unit, "offset");
  CheckAligned(env, *length, r.range.unit, "length");
  CheckRange(env, *offset, *length, r.range.length, "offset", "length", "mapping");
  return r;
}

void Mapping::FailMap(Napi::Env env, Reservation& r, uint64_t offset, uint64_t length, int err,
                      const char* what) {
  // A failed MAP_FIXED may have removed part of the old mapping: make the
  // whole run inaccessible so the state table is true again. When that is
  // refused too, nothing was changed: the kernel checks its VMA limit (the
  // usual refusal on a reserved range) before it unmaps anything.
  if (r.ShowNothing(offset, length) == 0) r.Record(offset, length, PageState::kNone, false);
  ThrowMapErrno(env, err, "mmap", what);
}

void* Mapping::MapRun(Napi::Env env, Reservation& r, uint64_t offset, uint64_t length, int prot,
                      int flags, int fd, off_t file_offset, PageState state, const char* what) {
  WaitUnpinned(Addr(r, offset), static_cast<size_t>(length));
  FaultServiceLock lock;
  r.stats.syscalls++;
  void* p = mmap(Addr(r, offset), static_cast<size_t>(length), prot, flags | MAP_FIXED, fd,
                 file_offset);
  if (p == MAP_FAILED) FailMap(env, r, offset, length, errno, what);
  r.Record(offset, length, state, false);
  if (state == PageState::kBlockRead || state == PageState::kBlockWrite) {
    size_t first = offset / r.range.unit, count = length / r.range.unit;
    double block = static_cast<double>(file_offset) / static_cast<double>(r.range.unit);
    for (size_t i = 0; i < count; i++) r.blocks[first + i] = block + static_cast<double>(i);
  }
  return p;
}

// mapBlocks(offset, length, regionOffset, writable)
Napi::Value Mapping::MapBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset, length;
  Reservation& r = CheckRun(info, 0, &offset, &length);
  uint64_t calls = r.stats.syscalls;
  uint64_t region_offset = ArgIndex(info, 2, "regionOffset");
  bool writable = ArgBool(info, 3, "writable", false);
  RegionCore& c = *r.region;
  CheckAligned(env, region_offset, r.range.unit, "regionOffset");
  CheckRange(env, region_offset, length, c.size, "regionOffset", "length", "region");
  if (writable && c.read_only) ThrowCode(env, "EROFS", "the region is open read-only");
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  int flags = c.map_sync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED;
  r.stats.map_blocks++;
  MapRun(env, r, offset, length, prot, flags, c.fd, static_cast<off_t>(region_offset),
         writable ? PageState::kBlockWrite : PageState::kBlockRead, "mapping region blocks");
  return CallsSince(env, r, calls);
}

// mapPrivate(offset, length, sourceRegionOffset?): private writable pages
// holding a copy of the region's bytes, or zeros without a source.
Napi::Value Mapping::MapPrivate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset, length;
  Reservation& r = CheckRun(info, 0, &offset, &length);
  uint64_t calls = r.stats.syscalls;
  int64_t source = ArgOptionalIndex(info, 2, "sourceRegionOffset");
  RegionCore& c = *r.region;
  if (source >= 0)
    CheckRange(env, static_cast<uint64_t>(source), length, c.size, "sourceRegionOffset", "length",
               "region");
  r.stats.map_private++;
  void* p = MapRun(env, r, offset, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                   0, PageState::kPrivateWrite, "mapping private pages");
  if (source >= 0) {
    const uint8_t* from = c.base() + source;
    auto copy = [&] { std::memcpy(p, from, static_cast<size_t>(length)); };
    BusFault fault;
    if (!Guarded(RegionRange(c), GuardRange{}, &fault, copy)) {
      // No page of a half-made copy stays visible: the run is torn down.
      if (r.ShowNothing(offset, length) == 0) r.Record(offset, length, PageState::kNone, false);
      ThrowBusFault(env, c, fault);
    }
    r.stats.bytes_copied += length;
  }
  return CallsSince(env, r, calls);
}

// protect(offset, length, writable): only pages holding region blocks or
// private copies can change protection.
Napi::Value Mapping::Protect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset, length;
  Reservation& r = CheckRun(info, 0, &offset, &length);
  uint64_t calls = r.stats.syscalls;
  bool writable = ArgBool(info, 2, "writable", false);
  size_t first = offset / r.range.unit, count = length / r.range.unit;
  for (size_t i = first; i < first + count; i++) {
    PageState s = r.range.states[i];
    bool block = s == PageState::kBlockRead || s == PageState::kBlockWrite;
    bool priv = s == PageState::kPrivateRead || s == PageState::kPrivateWrite;
    if (!block && !priv)
      ThrowCode(env, "EINVAL", "cannot change protection at mapping offset " +
                                   std::to_string(i * r.range.unit) + ": the page is " +
                                   PageStateName(s));
    if (block && writable && r.region->read_only)
      ThrowCode(env, "EROFS", "the region is open read-only");
  }
  WaitUnpinned(Addr(r, offset), static_cast<size_t>(length));
  FaultServiceLock lock;
  r.stats.protect++;
  r.stats.syscalls++;
  if (mprotect(Addr(r, offset), static_cast<size_t>(length),
               PROT_READ | (writable ? PROT_WRITE : 0)) != 0)
    ThrowMapErrno(env, errno, "mprotect", "changing the mapping's protection");
  for (size_t i = first; i < first + count; i++) {
    PageState s = r.range.states[i];
    bool block = s == PageState::kBlockRead || s == PageState::kBlockWrite;
    PageState next = block ? (writable ? PageState::kBlockWrite : PageState::kBlockRead)
                           : (writable ? PageState::kPrivateWrite : PageState::kPrivateRead);
    SetStates(&r.range, i, 1, next);
  }
  return CallsSince(env, r, calls);
}

// unmap(offset, length): tear down; the range stays reserved, inaccessible.
Napi::Value Mapping::Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset, length;
  Reservation& r = CheckRun(info, 0, &offset, &length);
  uint64_t calls = r.stats.syscalls;
  r.stats.unmap++;
  size_t first = offset / r.range.unit, count = length / r.range.unit;
  // A run already torn down is reserved, inaccessible memory: nothing to do.
  if (r.AllState(first, count, PageState::kNone)) return CallsSince(env, r, calls);
  WaitUnpinned(Addr(r, offset), static_cast<size_t>(length));
  FaultServiceLock lock;
  r.stats.syscalls++;
  if (r.AllBacked(first, count) && !r.tp.uffd) {
    // The zero source stays mapped, inaccessible: showing zeros again is an
    // mprotect too. Should the change stop part way, every page of the run
    // is either still the zero source or inaccessible: none is true for all.
    int err = mprotect(Addr(r, offset), static_cast<size_t>(length), PROT_NONE) == 0 ? 0 : errno;
    r.Record(offset, length, PageState::kNone, true);
    if (err != 0) ThrowMapErrno(env, err, "mprotect", "tearing down the range");
    return CallsSince(env, r, calls);
  }
  int err = r.ShowNothing(offset, length);
  if (err != 0) ThrowMapErrno(env, err, "mmap", "tearing down the range");
  r.Record(offset, length, PageState::kNone, false);
  return CallsSince(env, r, calls);
}

Napi::Value Mapping::Release(const Napi::CallbackInfo& info) {
  if (res_) res_->Release();
  buffer_.Reset();
  return info.Env().Undefined();
}

Napi::Value Mapping::Buffer(const Napi::CallbackInfo& info) {
  Open(info.Env());
  return buffer_.Value();
}

// states(offset, length): one byte per unit (see PageState).
Napi::Value Mapping::States(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset, length;
  Reservation& r = CheckRun(info, 0, &offset, &length);
  size_t first = offset / r.range.unit, count = length / r.range.unit;
  Napi::Uint8Array out = Napi::Uint8Array::New(env, count);
  for (size_t i = 0; i < count; i++) out[i] = static_cast<uint8_t>(r.range.states[first + i]);
  return out;
}

// kernelView(): what the kernel says about the range, from /proc/self/smaps:
// one entry per VMA inside the mapping, for tests and diagnostics. Rss
// counts a shared page once in every VMA that maps it; Pss divides it among
// them, so Pss is what a range really costs.
Napi::Value Mapping::KernelView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Reservation& r = Open(env);
  FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) ThrowErrno(env, errno, "open", "", "/proc/self/smaps");
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  char line[512];
  Napi::Object current;
  bool inside = false;
  uintptr_t lo = r.range.start, hi = r.range.start + r.range.length;
  const ZeroSource& z = GetZeroSource();
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    uintptr_t start = 0, end = 0;
    unsigned long long file_offset = 0, inode = 0;
    char perms[8] = {0};
    unsigned dev_major = 0, dev_minor = 0;
    if (std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %x:%x %llu", &start, &end, perms,
                    &file_offset, &dev_major, &dev_minor, &inode) == 7) {
      inside = start < hi && end > lo;
      if (!inside) continue;
      current = Napi::Object::New(env);
      current.Set("offset", Napi::Number::New(env, static_cast<double>(start - lo)));
      current.Set("length", Napi::Number::New(env, static_cast<double>(end - start)));
      current.Set("perms", std::string(perms));
      current.Set("fileOffset", Napi::Number::New(env, static_cast<double>(file_offset)));
      current.Set("inode", Napi::Number::New(env, static_cast<double>(inode)));
      current.Set("regionFile", inode != 0 && inode == r.region->st_ino);
      current.Set("zeroSource", z.fd >= 0 && inode == z.inode && dev_major == z.dev_major &&
                                    dev_minor == z.dev_minor);
      current.Set("rssKiB", Napi::Number::New(env, 0));
      current.Set("pssKiB", Napi::Number::New(env, 0));
      out.Set(n++, current);
      continue;
    }
    unsigned long long kib = 0;
    if (inside && std::sscanf(line, "Rss: %llu kB", &kib) == 1)
      current.Set("rssKiB", Napi::Number::New(env, static_cast<double>(kib)));
    if (inside && std::sscanf(line, "Pss: %llu kB", &kib) == 1)
      current.Set("pssKiB", Napi::Number::New(env, static_cast<double>(kib)));
  }
  std::fclose(f);
  return out;
}

Napi::Value Mapping::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!res_) return env.Undefined();
  const MmuStats& s = res_->stats;
  return NumbersObject(env, {{"mapBlocks", s.map_blocks},
                             {"mapZero", s.map_zero},
                             {"mapPrivate", s.map_private},
                             {"protect", s.protect},
                             {"unmap", s.unmap},
                             {"syscalls", s.syscalls},
                             {"bytesCopied", s.bytes_copied},
                             {"zeroVmas", s.zero_pieces}});
}

Napi::Value Mapping::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  bool open = res_ && !res_->released;
  o.Set("released", !open);
  if (res_) {
    o.Set("length", Napi::Number::New(env, static_cast<double>(res_->range.length)));
    o.Set("unit", Napi::Number::New(env, static_cast<double>(res_->range.unit)));
    o.Set("addressAlign",
          Napi::Number::New(env, static_cast<double>(res_->range.start & -res_->range.start)));
  }
  return o;
}

// setLabel(text): what the fatal lines call this mapping (fault_sites.h).
Napi::Value Mapping::SetLabel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowCode(env, "EINVAL", "label must be a string");
  if (!res_ || res_->released) ThrowCode(env, "EBADF", "the mapping is released");
  std::string label = info[0].As<Napi::String>().Utf8Value();
  SetFaultSiteLabel(reinterpret_cast<const void*>(res_->range.start), label.data(), label.size());
  return env.Undefined();
}

// setEndOfFile(offset): pages from this mapping offset on lie wholly past
// the end of the file (a plain access there is a SIGBUS: fault_sites.h).
Napi::Value Mapping::SetEndOfFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset = ArgIndex(info, 0, "offset");
  if (!res_ || res_->released) ThrowCode(env, "EBADF", "the mapping is released");
  SetFaultSiteEnd(reinterpret_cast<const void*>(res_->range.start), offset);
  return env.Undefined();
}

// tables(): the page states, the block each page shows and the targets
// transparent faults resolve to, as typed arrays over this mapping's own
// tables (shared: what the fault service changes, the TypeScript page table
// sees at once). They stay valid after release.
Napi::Value Mapping::Tables(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Reservation& r = Open(env);
  auto view = [&](void* data, size_t bytes) {
    auto* hold = new std::shared_ptr<Reservation>(res_);
    return Napi::ArrayBuffer::New(
        env, data, bytes, [](Napi::Env, void*, std::shared_ptr<Reservation>* h) { delete h; }, hold);
  };
  size_t n = r.range.states.size();
  Napi::Object o = Napi::Object::New(env);
  o.Set("states", Napi::Uint8Array::New(env, n, view(r.range.states.data(), n), 0));
  o.Set("blocks", Napi::Float64Array::New(env, n, view(r.blocks.data(), n * sizeof(double)), 0));
  o.Set("targets", Napi::Float64Array::New(env, n, view(r.tp.targets.data(), n * sizeof(double)), 0));
  return o;
}

// publish(group, firstBlock, shared, writable, faultAround, userfaultfd):
// from now on a plain access to a page showing nothing (or a store to a
// read-only page) is served from the targets (fault_service.h) instead of
// ending the process; with `userfaultfd`, pages showing nothing are
// registered with the service's userfaultfd (uffd_service.h), so accesses
// from system calls are served too.
Napi::Value Mapping::Publish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Reservation& r = Open(env);
  uint64_t group = ArgIndex(info, 0, "group");
  uint64_t first = ArgIndex(info, 1, "firstBlock");
  bool shared = ArgBool(info, 2, "shared", true);
  bool writable = ArgBool(info, 3, "writable", false);
  uint64_t around = ArgIndex(info, 4, "faultAround");
  bool uffd = ArgBool(info, 5, "userfaultfd", false);
  if (group > UINT32_MAX) ThrowCode(env, "EINVAL", "group must fit in 32 bits");
  if (writable && shared && r.region->read_only) ThrowCode(env, "EROFS", "the region is open read-only");
  if (uffd && !StartUffdService()) ThrowErrno(env, errno, "userfaultfd", "starting the fault service's userfaultfd");
  FaultServiceLock lock;
  if (uffd && !r.tp.uffd) {
    // Every run showing nothing (and not the zero source's, torn down)
    // becomes registered anonymous memory; a run the kernel refuses stays
    // inaccessible, served by the SIGSEGV handler alone.
    r.tp.uffd = true;
    size_t n = r.range.states.size();
    for (size_t i = 0; i < n;) {
      if (r.range.states[i] != PageState::kNone || r.zero_backed[i] != 0) {
        i++;
        continue;
      }
      size_t j = i + 1;
      while (j < n && r.range.states[j] == PageState::kNone && r.zero_backed[j] == 0) j++;
      r.ShowNothing(i * r.range.unit, (j - i) * r.range.unit);
      i = j;
    }
  }
  r.tp.group = static_cast<uint32_t>(group);
  r.tp.first_block = first;
  r.tp.shared = shared;
  r.tp.writable = writable;
  r.tp.around = around;
  r.tp.on = true;
  return env.Undefined();
}

// retarget(page, count, runs, nruns): the targets of pages [page, page +
// count) from the first `nruns` runs of file blocks in `runs` (fileBlock,
// length, poolBlock, unwritten — four numbers each), under the
// fault-service lock (fault_service.h: Retarget).
Napi::Value Mapping::RetargetJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Reservation& r = Open(env);
  uint64_t page = ArgIndex(info, 0, "page");
  uint64_t count = ArgIndex(info, 1, "count");
  CheckRange(env, page, count, r.range.states.size(), "page", "count", "mapping's pages");
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowCode(env, "EINVAL", "runs must be a Float64Array");
  Napi::Float64Array runs = info[2].As<Napi::Float64Array>();
  uint64_t nruns = ArgIndex(info, 3, "nruns");
  if (nruns > runs.ElementLength() / 4) ThrowCode(env, "ERANGE", "nruns is more runs than runs holds");
  uint64_t blocks = r.region->size / r.range.unit;
  for (size_t i = 0; i < nruns * 4; i += 4) {
    double fb = runs[i], length = runs[i + 1], pool = runs[i + 2];
    if (!(fb >= 0) || !(length >= 1) || !(pool >= -1) || !(fb + length <= 9007199254740991.0) ||
        (pool >= 0 && pool + length > static_cast<double>(blocks)))
      ThrowCode(env, "ERANGE", "runs: entry " + std::to_string(i / 4) + " is not a run of the region's blocks");
  }
  Retarget(r, static_cast<size_t>(page), static_cast<size_t>(count), runs.Data(), static_cast<size_t>(nruns));
  return env.Undefined();
}

// servedStats(): faults the fault service served in this mapping.
Napi::Value Mapping::ServedStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!res_) return env.Undefined();
  FaultServiceLock lock;
  const TransparentTable& t = res_->tp;
  return NumbersObject(env, {{"reads", t.reads},
                             {"writes", t.writes},
                             {"fills", t.fills},
                             {"converts", t.converts},
                             {"copies", t.copies}});
}

}  // namespace daxfs
