// The JavaScript side of a region's fault reserve (fault_service.h): the
// TypeScript layer grants blocks, takes back what was not used, takes the
// adoption log, and names the function to call when the log has entries.
// Everything changes under the fault-service lock.
#include "fault_reserve_js.h"

#include <uv.h>

#include <memory>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "fault_service.h"
#include "region.h"
#include "region_core.h"

namespace daxfs {
namespace {

// The wake-up of one region's reserve: a libuv async handle on the loop of
// the environment that set it, calling its function there.
struct FaultWake {
  uv_async_t handle;
  napi_env env = nullptr;
  Napi::FunctionReference fn;
  napi_async_cleanup_hook_handle hook = nullptr;
  std::weak_ptr<FaultReserve> reserve;
};

void OnWake(uv_async_t* handle) {
  auto* w = static_cast<FaultWake*>(handle->data);
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  try {
    w->fn.MakeCallback(env.Global(), {});
  } catch (const Napi::Error& e) {
    napi_value value = e.Value();
    if (value != nullptr) napi_fatal_exception(env, value);
  }
}

void CloseWake(FaultWake* w) {
  if (auto q = w->reserve.lock()) {
    FaultServiceLock lock;
    if (q->wake == &w->handle) q->wake = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), [](uv_handle_t* h) {
    auto* closed = static_cast<FaultWake*>(h->data);
    if (closed->hook != nullptr) napi_remove_async_cleanup_hook(closed->hook);
    delete closed;
  });
}

// The environment is going: its loop closes, so must the handle.
void OnCleanup(napi_async_cleanup_hook_handle, void* arg) {
  auto* w = static_cast<FaultWake*>(arg);
  w->fn.Reset();
  CloseWake(w);
}

std::shared_ptr<RegionCore> CoreArg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(data->region_constructor.Value()))
    ThrowCode(env, "EINVAL", "region must be a Region");
  return Napi::ObjectWrap<Region>::Unwrap(info[0].As<Napi::Object>())->OpenCore(env);
}

// The region's reserve, made on first use (under the lock: the handler
// reads the pointer).
FaultReserve& ReserveOf(RegionCore& core) {
  FaultServiceLock lock;
  if (!core.fault_reserve) core.fault_reserve = std::make_shared<FaultReserve>();
  return *core.fault_reserve;
}

// faultGrant(region, runs, logCapacity): adds runs ([start, length, ...],
// pool blocks) to the blocks the handler may take, and makes room in the
// adoption log for `logCapacity` entries in all.
Napi::Value Grant(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RegionCore> core = CoreArg(info);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowCode(env, "EINVAL", "runs must be a Float64Array");
  Napi::Float64Array runs = info[1].As<Napi::Float64Array>();
  uint64_t capacity = ArgIndex(info, 2, "logCapacity");
  if (runs.ElementLength() % 2 != 0) ThrowCode(env, "EINVAL", "runs must hold pairs of start and length");
  uint64_t blocks = core->size / 4096;
  for (size_t i = 0; i < runs.ElementLength(); i += 2) {
    double start = runs[i], length = runs[i + 1];
    if (!(start >= 0) || !(length >= 1) || start != static_cast<double>(static_cast<uint64_t>(start)) ||
        length != static_cast<double>(static_cast<uint64_t>(length)) ||
        static_cast<uint64_t>(start) + static_cast<uint64_t>(length) > blocks)
      ThrowCode(env, "ERANGE", "runs: entry " + std::to_string(i / 2) + " is not a run of blocks inside the region");
  }
  if (capacity > (uint64_t{1} << 24)) ThrowCode(env, "EINVAL", "logCapacity must be at most 2^24");
  FaultReserve& q = ReserveOf(*core);
  FaultServiceLock lock;
  // Runs used up are dropped first: the list stays as long as what is left.
  q.run_start.erase(q.run_start.begin(), q.run_start.begin() + static_cast<std::ptrdiff_t>(q.run));
  q.run_length.erase(q.run_length.begin(), q.run_length.begin() + static_cast<std::ptrdiff_t>(q.run));
  q.run = 0;
  for (size_t i = 0; i < runs.ElementLength(); i += 2) {
    q.run_start.push_back(static_cast<uint64_t>(runs[i]));
    q.run_length.push_back(static_cast<uint64_t>(runs[i + 1]));
  }
  if (capacity > q.log.size()) q.log.resize(static_cast<size_t>(capacity));
  q.counters[1] = static_cast<uint32_t>(std::min<uint64_t>(q.Left(), UINT32_MAX));
  return env.Undefined();
}

// faultRevoke(region): the granted blocks the handler has not taken, as
// runs ([start, length, ...]); none are granted afterwards.
Napi::Value Revoke(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RegionCore> core = CoreArg(info);
  FaultReserve& q = ReserveOf(*core);
  std::vector<double> out;
  {
    FaultServiceLock lock;
    for (size_t i = q.run; i < q.run_start.size(); i++) {
      uint64_t skip = i == q.run ? q.taken_in_run : 0;
      if (skip >= q.run_length[i]) continue;
      out.push_back(static_cast<double>(q.run_start[i] + skip));
      out.push_back(static_cast<double>(q.run_length[i] - skip));
    }
    q.run_start.clear();
    q.run_length.clear();
    q.run = 0;
    q.taken_in_run = 0;
    q.counters[1] = 0;
  }
  Napi::Float64Array a = Napi::Float64Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); i++) a[i] = out[i];
  return a;
}

// faultAdoptions(region): the log's entries ([group, fileBlock, poolBlock,
// kind, ...]; kind 0 a fill from the grant, 1 a conversion), emptied.
Napi::Value Adoptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RegionCore> core = CoreArg(info);
  FaultReserve& q = ReserveOf(*core);
  std::vector<Adoption> taken;
  {
    FaultServiceLock lock;
    taken.assign(q.log.begin(), q.log.begin() + static_cast<std::ptrdiff_t>(q.logged));
    q.logged = 0;
    q.counters[0] = 0;
  }
  Napi::Float64Array a = Napi::Float64Array::New(env, taken.size() * 4);
  for (size_t i = 0; i < taken.size(); i++) {
    a[i * 4] = taken[i].group;
    a[i * 4 + 1] = taken[i].file_block;
    a[i * 4 + 2] = taken[i].pool_block;
    a[i * 4 + 3] = taken[i].kind;
  }
  return a;
}

// faultCounters(region): a Uint32Array over the reserve's counters
// (fault_service.h), read without a call.
Napi::Value Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RegionCore> core = CoreArg(info);
  FaultReserve& q = ReserveOf(*core);
  auto* hold = new std::shared_ptr<FaultReserve>(core->fault_reserve);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, q.counters, sizeof(q.counters), [](Napi::Env, void*, std::shared_ptr<FaultReserve>* h) { delete h; },
      hold);
  return Napi::Uint32Array::New(env, sizeof(q.counters) / sizeof(q.counters[0]), ab, 0);
}

// faultWake(region, fn | null): fn runs on this thread's loop after the
// handler logs an entry (at most once per turn); null stops it.
Napi::Value Wake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RegionCore> core = CoreArg(info);
  FaultReserve& q = ReserveOf(*core);
  FaultWake* old = nullptr;
  {
    FaultServiceLock lock;
    if (q.wake != nullptr) old = static_cast<FaultWake*>(static_cast<uv_async_t*>(q.wake)->data);
    q.wake = nullptr;
  }
  if (old != nullptr) {
    old->fn.Reset();
    CloseWake(old);
  }
  if (info[1].IsNull() || info[1].IsUndefined()) return env.Undefined();
  if (!info[1].IsFunction()) ThrowCode(env, "EINVAL", "fn must be a function or null");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    ThrowCode(env, "EIO", "no event loop to wake");
  auto* w = new FaultWake();
  w->env = env;
  w->fn = Napi::Persistent(info[1].As<Napi::Function>());
  w->reserve = core->fault_reserve;
  if (uv_async_init(loop, &w->handle, OnWake) != 0) {
    delete w;
    ThrowCode(env, "EIO", "cannot make the fault service's wake-up handle");
  }
  w->handle.data = w;
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->handle));  // never keeps the loop alive
  napi_add_async_cleanup_hook(env, OnCleanup, w, &w->hook);
  FaultServiceLock lock;
  q.wake = &w->handle;
  return env.Undefined();
}

// faultTraced(region, offset, length): while the persistence trace runs
// (persist_trace.h), records the bytes of an adopted range as stored and
// streamed (durable at the next fence, as the service's non-temporal
// zeroing is): that zeroing and the plain stores after it are no
// primitive's, so the crash simulator would otherwise never see them.
Napi::Value Traced(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RegionCore> core = CoreArg(info);
  uint64_t offset = ArgIndex(info, 1, "offset");
  uint64_t length = ArgIndex(info, 2, "length");
  CheckRange(env, offset, length, core->size, "offset", "length", "region");
  core->TraceStore(offset, length);
  core->TraceStreamed(offset, length);
  return env.Undefined();
}

using ReserveHandle = Napi::External<std::shared_ptr<FaultReserve>>;

// Holds this thread has (all regions): faults waiting are let through only
// before a thread's first hold (see LetWaitingFaultsThrough).
thread_local int held_here = 0;

// faultHandle(region): the region's reserve as a handle for faultHold and
// faultRelease, which run around every layout change of a mapped file: no
// Region unwrapping per call.
Napi::Value Handle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<RegionCore> core = CoreArg(info);
  ReserveOf(*core);
  return ReserveHandle::New(env, new std::shared_ptr<FaultReserve>(core->fault_reserve),
                            [](Napi::Env, std::shared_ptr<FaultReserve>* p) { delete p; });
}

FaultReserve& HandleArg(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal()) ThrowCode(info.Env(), "EINVAL", "handle must come from faultHandle");
  return **info[0].As<ReserveHandle>().Data();
}

// faultHold(handle, group): the file's layout is about to change; faults
// on its mappings from other threads wait until faultRelease. Nests.
Napi::Value Hold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FaultReserve& q = HandleArg(info);
  uint64_t group = ArgIndex(info, 1, "group");
  if (group > UINT32_MAX) ThrowCode(env, "EINVAL", "group must fit in 32 bits");
  long me = ThreadId();
  // A thread's first hold lets faults already waiting through first.
  if (held_here == 0) LetWaitingFaultsThrough();
  FaultServiceLock lock;
  GroupHold* free_slot = nullptr;
  for (GroupHold& h : q.holds) {
    if (h.count != 0 && h.group == group) {
      if (h.thread != me) ThrowCode(env, "EBUSY", "the file is held by another thread");
      h.count++;
      held_here++;
      return env.Undefined();
    }
    if (h.count == 0 && free_slot == nullptr) free_slot = &h;
  }
  if (free_slot == nullptr) ThrowCode(env, "EBUSY", "too many files held at once");
  *free_slot = GroupHold{static_cast<uint32_t>(group), 1, me};
  held_here++;
  return env.Undefined();
}

// faultRelease(handle, group): ends one faultHold.
Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FaultReserve& q = HandleArg(info);
  uint64_t group = ArgIndex(info, 1, "group");
  bool ended = false;
  {
    FaultServiceLock lock;
    for (GroupHold& h : q.holds)
      if (h.count != 0 && h.group == group) {
        h.count--;
        held_here--;
        ended = h.count == 0;
        break;
      }
  }
  if (ended) HoldReleased();
  return env.Undefined();
}

}  // namespace

void AddFaultReserveFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("faultHandle", Napi::Function::New(env, Handle));
  exports.Set("faultHold", Napi::Function::New(env, Hold));
  exports.Set("faultRelease", Napi::Function::New(env, Release));
  exports.Set("faultTraced", Napi::Function::New(env, Traced));
  exports.Set("faultGrant", Napi::Function::New(env, Grant));
  exports.Set("faultRevoke", Napi::Function::New(env, Revoke));
  exports.Set("faultAdoptions", Napi::Function::New(env, Adoptions));
  exports.Set("faultCounters", Napi::Function::New(env, Counters));
  exports.Set("faultWake", Napi::Function::New(env, Wake));
}

}  // namespace daxfs
