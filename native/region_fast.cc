#include "region_fast.h"

#include "args.h"
#include "errors.h"
#include "region_io.h"

namespace daxfs {
namespace {

constexpr size_t kArgSlots = 8;

struct FastState {
  std::shared_ptr<RegionCore> core;
  Napi::Reference<Napi::Float64Array> args_ref;  // keeps `args` valid
  double* args = nullptr;  // native writes results back into it too
};

bool FlagArg(Napi::Env env, double value, const char* name) {
  if (value != 0 && value != 1) ThrowCode(env, "EINVAL", std::string(name) + " must be a boolean");
  return value == 1;
}

using Body = napi_value (*)(Napi::Env env, FastState& s, napi_value arg);

// The arguments every copy takes: region offset (args[0]), the buffer (the
// call's argument), the offset in it (args[1]) and the length (args[2]),
// checked in that order.
struct CopyArgs {
  uint64_t offset;
  ByteSpan bytes;
  uint64_t bytes_offset;
  uint64_t length;
};

CopyArgs ParseCopy(Napi::Env env, FastState& s, napi_value arg, const char* buffer_name,
                   const char* offset_name) {
  CopyArgs a{};
  a.offset = CheckIndex(env, s.args[0], "offset");
  a.bytes = BytesOf(env, arg, buffer_name);
  a.bytes_offset = CheckIndex(env, s.args[1], offset_name);
  a.length = CheckIndex(env, s.args[2], "length");
  return a;
}

// persist (args[3]): 0 no, 1 durable on return, 2 flushed but not fenced
// (durable at this thread's next fence: a caller whose next step is a
// barrier of its own saves one).
napi_value WriteBody(Napi::Env env, FastState& s, napi_value arg) {
  RegionCore& c = RequireWritable(env, s.core.get());
  CopyArgs a = ParseCopy(env, s, arg, "source", "sourceOffset");
  double mode = s.args[3];
  if (mode != 0 && mode != 1 && mode != 2) ThrowCode(env, "EINVAL", "persist must be a boolean or 'flush'");
  RegionWrite(env, c, a.offset, a.bytes, a.bytes_offset, a.length, mode != 0, mode != 2);
  return nullptr;  // all or nothing: the caller knows the count
}

// A 64-bit word passed as two 32-bit halves (args[lo], args[hi]): words
// whose top bits hold more than a safe integer can carry.
uint64_t WordArg(Napi::Env env, FastState& s, size_t lo_index, size_t hi_index) {
  uint64_t lo = CheckIndex(env, s.args[lo_index], "low");
  uint64_t hi = CheckIndex(env, s.args[hi_index], "high");
  if (lo > 0xffffffffu) ThrowCode(env, "EINVAL", "low must be below 2^32");
  if (hi > 0xffffffffu) ThrowCode(env, "EINVAL", "high must be below 2^32");
  return (hi << 32) | lo;
}

// writePublish: copy in and persist, then store an 8-byte word (args[4]
// low, args[5] high halves) at args[3] and persist it: the data is durable
// before the word that publishes it (an append and its size word).
napi_value WritePublishBody(Napi::Env env, FastState& s, napi_value arg) {
  RegionCore& c = RequireWritable(env, s.core.get());
  CopyArgs a = ParseCopy(env, s, arg, "source", "sourceOffset");
  uint64_t word_offset = CheckIndex(env, s.args[3], "wordOffset");
  uint64_t word = WordArg(env, s, 4, 5);
  // every check before anything is written: a bad word offset changes nothing
  CheckAligned(env, word_offset, 8, "wordOffset");
  CheckRange(env, word_offset, 8, c.size, "wordOffset", "length", "region");
  RegionWrite(env, c, a.offset, a.bytes, a.bytes_offset, a.length, true);
  RegionStore64(env, c, word_offset, word);
  return nullptr;
}

napi_value ReadBody(Napi::Env env, FastState& s, napi_value arg) {
  RegionCore& c = RequireOpen(env, s.core.get());
  CopyArgs a = ParseCopy(env, s, arg, "target", "targetOffset");
  RegionRead(env, c, a.offset, a.bytes, a.bytes_offset, a.length);
  return nullptr;
}

napi_value ZeroBody(Napi::Env env, FastState& s, napi_value) {
  RegionCore& c = RequireWritable(env, s.core.get());
  uint64_t offset = CheckIndex(env, s.args[0], "offset");
  uint64_t length = CheckIndex(env, s.args[1], "length");
  RegionZero(env, c, offset, length, FlagArg(env, s.args[2], "persist"));
  return nullptr;
}

// The operations that take (offset, length): persist, flush, checkView.
template <void (*op)(Napi::Env, RegionCore&, uint64_t, uint64_t)>
napi_value RangeBody(Napi::Env env, FastState& s, napi_value) {
  RegionCore& c = RequireOpen(env, s.core.get());
  uint64_t offset = CheckIndex(env, s.args[0], "offset");
  uint64_t length = CheckIndex(env, s.args[1], "length");
  op(env, c, offset, length);
  return nullptr;
}

napi_value Store64Body(Napi::Env env, FastState& s, napi_value) {
  RegionCore& c = RequireWritable(env, s.core.get());
  uint64_t offset = CheckIndex(env, s.args[0], "offset");
  RegionStore64(env, c, offset, CheckIndex(env, s.args[1], "value"));
  return nullptr;
}

// store64Parts: the word in args[1] (low) and args[2] (high).
napi_value Store64PartsBody(Napi::Env env, FastState& s, napi_value) {
  RegionCore& c = RequireWritable(env, s.core.get());
  uint64_t offset = CheckIndex(env, s.args[0], "offset");
  RegionStore64(env, c, offset, WordArg(env, s, 1, 2));
  return nullptr;
}

// Returns the run's start (-1 when none) and leaves its length in args[5].
napi_value BitmapFindBody(Napi::Env env, FastState& s, napi_value) {
  RegionCore& c = RequireOpen(env, s.core.get());
  uint64_t bitmap_offset = CheckIndex(env, s.args[0], "bitmapOffset");
  uint64_t nbits = CheckIndex(env, s.args[1], "nbits");
  uint64_t goal = CheckIndex(env, s.args[2], "goal");
  uint64_t want = CheckIndex(env, s.args[3], "want");
  uint64_t min_run = CheckIndex(env, s.args[4], "minRun");
  FreeRun run = RegionBitmapFind(env, c, bitmap_offset, nbits, goal, want, min_run);
  s.args[5] = run.found ? static_cast<double>(run.length) : 0;
  napi_value result = nullptr;
  napi_create_double(env, run.found ? static_cast<double>(run.start) : -1.0, &result);
  return result;
}

// The raw Node-API entry: one napi call to fetch the argument and the state,
// then the body; C++ exceptions become JS exceptions here.
template <Body body>
napi_value Entry(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg = nullptr;
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, &data);
  FastState& state = **static_cast<std::shared_ptr<FastState>*>(data);
  try {
    return body(Napi::Env(env), state, arg);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
}

template <Body body>
void AddFunction(Napi::Env env, Napi::Object target, const char* name,
                 const std::shared_ptr<FastState>& state) {
  auto* data = new std::shared_ptr<FastState>(state);
  napi_value fn = nullptr;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, Entry<body>, data, &fn) != napi_ok) {
    delete data;
    ThrowCode(env, "ENOMEM", "cannot create a fast-call function");
  }
  // The function owns its reference to the state, released when it is collected.
  napi_add_finalizer(
      env, fn, data,
      [](napi_env, void* p, void*) { delete static_cast<std::shared_ptr<FastState>*>(p); }, nullptr,
      nullptr);
  target.Set(name, Napi::Value(env, fn));
}

}  // namespace

Napi::Object MakeFastCalls(Napi::Env env, std::shared_ptr<RegionCore> core) {
  auto state = std::make_shared<FastState>();
  state->core = std::move(core);
  Napi::Float64Array args = Napi::Float64Array::New(env, kArgSlots);
  state->args = args.Data();
  state->args_ref = Napi::Reference<Napi::Float64Array>::New(args, 1);
  Napi::Object calls = Napi::Object::New(env);
  calls.Set("args", args);
  AddFunction<WriteBody>(env, calls, "write", state);
  AddFunction<ReadBody>(env, calls, "read", state);
  AddFunction<ZeroBody>(env, calls, "zero", state);
  AddFunction<RangeBody<RegionPersist>>(env, calls, "persist", state);
  AddFunction<RangeBody<RegionFlush>>(env, calls, "flush", state);
  AddFunction<RangeBody<CheckViewRange>>(env, calls, "checkView", state);
  AddFunction<Store64Body>(env, calls, "store64", state);
  AddFunction<Store64PartsBody>(env, calls, "store64Parts", state);
  AddFunction<WritePublishBody>(env, calls, "writePublish", state);
  AddFunction<BitmapFindBody>(env, calls, "bitmapFind", state);
  return calls;
}

}  // namespace daxfs
