// Module entry: exports the Region and Mapping classes and the constants the
// TypeScript layer needs.
#include <napi.h>

#include "addon_data.h"
#include "args.h"
#include "cpu_persist.h"
#include "crc32.h"
#include "errors.h"
#include "external_buffer.h"
#include "fault_guard.h"
#include "fault_reserve_js.h"
#include "mmu.h"
#include "page_state.h"
#include "region.h"
#include "vm.h"
#include "zero_report.h"
#include "zero_source.h"

namespace daxfs {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Region memory can fault when its backing fails (fault_guard.h).
  InstallFaultGuard();
  auto* data = new AddonData();
  env.SetInstanceData(data);
  Napi::Function region = Region::Init(env);
  Napi::Function mapping = Mapping::Init(env);
  data->region_constructor = Napi::Persistent(region);
  exports.Set("Region", region);
  exports.Set("Mapping", mapping);
  AddFaultReserveFunctions(env, exports);
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
  exports.Set("cacheLine", Napi::Number::New(env, static_cast<double>(kCacheLine)));
  // pageStates: every page state's value by name (the names states() errors use).
  Napi::Object states = Napi::Object::New(env);
  for (int v = 0; v <= static_cast<int>(kLastPageState); v++)
    states.Set(PageStateName(static_cast<PageState>(v)), Napi::Number::New(env, v));
  exports.Set("pageStates", states);
  // setMaxArrayBufferLength(n): the limit Node declares
  // (buffer.constants.MAX_LENGTH), which native code cannot ask for; no
  // longer buffer is ever tried.
  exports.Set("setMaxArrayBufferLength", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    SetDeclaredArrayBufferLimit(ArgIndex(info, 0, "length"));
  }));
  // maxArrayBufferLength(): the largest buffer the engine takes (found by
  // trying: see external_buffer.h).
  exports.Set("maxArrayBufferLength", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(LargestArrayBuffer(info.Env())));
  }));
  // setErrorClass(DaxfsError): errors thrown here become instances of it.
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("setErrnoNames", Napi::Function::New(env, SetErrnoNames));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoNameJs));
  // The zero source every mapping shows holes through (zero_source.h), and
  // the process-wide limit on the VMAs it may occupy (the policy is the
  // TypeScript layer's; 2^53 - 1 leaves only the kernel's limit).
  exports.Set("zeroSource", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Value(ZeroSourceReport(info.Env()));
  }));
  exports.Set("setZeroSourceLimit", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    uint64_t limit = ArgIndex(info, 0, "limit");
    SetZeroPieceLimit(limit == kMaxSafeInteger ? UINT64_MAX : limit);
  }));
  exports.Set("zeroSourceLimit", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    uint64_t limit = ZeroPieceLimit();
    if (limit == UINT64_MAX) return info.Env().Null();
    return Napi::Value(Napi::Number::New(info.Env(), static_cast<double>(limit)));
  }));
  // crc32(data: Uint8Array): zlib's CRC-32 of its bytes, as node:zlib's
  // crc32 computes it, at the native speed (crc32.h): for the checksums the
  // TypeScript layer computes on every commit. Guarded: a view of a region
  // mapping may fault.
  exports.Set("crc32", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      ThrowCode(env, "EINVAL", "data must be a Uint8Array");
    auto data = info[0].As<Napi::Uint8Array>();
    const uint8_t* p = data.Data();
    size_t length = data.ByteLength();
    uint32_t crc = 0;
    BusFault fault;
    auto body = [&] { crc = Crc32(0, p, length); };
    if (!Guarded(GuardRange::Of(p, length), GuardRange{}, &fault, body))
      ThrowCode(env, "EIO", "crc32: the data faulted at " + std::to_string(fault.address));
    return Napi::Number::New(env, crc);
  }));
  exports.Set("maxMapCount", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(MaxMapCount()));
  }));
  // Testing: a SIGBUS outside every region and mapping (fault_guard.h).
  exports.Set("loadPastEndOfFile", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) ThrowCode(info.Env(), "EINVAL", "path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    int err = LoadPastEndOfFile(path.c_str());
    if (err != 0) ThrowErrno(info.Env(), err, "mmap", "mapping the file", path);
  }));
  exports.Set("probeAnonymousReads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Value(AnonProbeReport(info.Env()));
  }));
  exports.Set("probeUserfaultfd", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Value(UffdProbeReport(info.Env()));
  }));
  return exports;
}

}  // namespace
}  // namespace daxfs

// NODE_API_MODULE pastes the name into an identifier: it must be unqualified.
static Napi::Object InitDaxfs(Napi::Env env, Napi::Object exports) {
  return daxfs::Init(env, exports);
}
NODE_API_MODULE(daxfs, InitDaxfs)
