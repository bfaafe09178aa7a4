#include "region.h"

#include "page_state.h"

#include <fcntl.h>

#include <cstring>
#include <string>

#include "args.h"
#include "backing_fault.h"
#include "bitmap.h"
#include "copy_probe.h"
#include "errors.h"
#include "fault_round_trip.h"
#include "first_touch.h"
#include "journal_commit.h"
#include "mmu.h"
#include "page_state.h"
#include "region_async.h"
#include "region_fast.h"
#include "region_io.h"
#include "region_open.h"
#include "region_space.h"
#include "vm.h"
#include "zero_report.h"

namespace daxfs {
namespace {

std::string OptString(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) ThrowCode(o.Env(), "EINVAL", std::string("options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool OptBool(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean())
    ThrowCode(o.Env(), "EINVAL", std::string("options.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

uint64_t OptIndex(const Napi::Object& o, const char* key, uint64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  std::string name = std::string("options.") + key;
  if (!v.IsNumber()) ThrowCode(o.Env(), "EINVAL", name + " must be a non-negative integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<uint64_t>(d)) ||
      d > static_cast<double>(kMaxSafeInteger))
    ThrowCode(o.Env(), "EINVAL", name + " must be a non-negative integer, got " + std::to_string(d));
  return static_cast<uint64_t>(d);
}

}  // namespace

Napi::Function Region::Init(Napi::Env env) {
  return DefineClass(
      env, "Region",
      {
          InstanceMethod<&Region::Close>("close"),
          InstanceMethod<&Region::Report>("report"),
          InstanceMethod<&Region::Stats>("stats"),
          InstanceMethod<&Region::ArrayBuffer>("arrayBuffer"),
          InstanceMethod<&Region::ViewWindows>("viewWindows"),
          InstanceMethod<&Region::RangeBuffer>("rangeBuffer"),
          InstanceMethod<&Region::CheckView>("checkView"),
          InstanceMethod<&Region::Read>("read"),
          InstanceMethod<&Region::Write>("write"),
          InstanceMethod<&Region::WriteScatter>("writeScatter"),
          InstanceMethod<&Region::JournalCommit>("journalCommit"),
          InstanceMethod<&Region::Zero>("zero"),
          InstanceMethod<&Region::Persist>("persist"),
          InstanceMethod<&Region::Flush>("flush"),
          InstanceMethod<&Region::Drain>("drain"),
          InstanceMethod<&Region::Load64>("load64"),
          InstanceMethod<&Region::WaitIdle>("waitIdle"),
          InstanceMethod<&Region::FirstTouch>("firstTouch"),
          InstanceMethod<&Region::FaultRoundTrip>("faultRoundTrip"),
          InstanceMethod<&Region::CopyProbe>("copyProbe"),
          InstanceMethod<&Region::TraceStart>("traceStart"),
          InstanceMethod<&Region::TraceMark>("traceMark"),
          InstanceMethod<&Region::TraceTake>("traceTake"),
          InstanceMethod<&Region::Store64>("store64"),
          InstanceMethod<&Region::Cas64>("cas64"),
          InstanceMethod<&Region::BitmapFind>("bitmapFind"),
          InstanceMethod<&Region::BitmapSet>("bitmapSet"),
          InstanceMethod<&Region::BitmapClear>("bitmapClear"),
          InstanceMethod<&Region::BitmapCount>("bitmapCount"),
          InstanceMethod<&Region::FastCalls>("fastCalls"),
          InstanceMethod<&Region::WriteAsync>("writeAsync"),
          InstanceMethod<&Region::ReadAsync>("readAsync"),
          InstanceMethod<&Region::Lock>("lock"),
          InstanceMethod<&Region::Reserve>("reserve"),
          InstanceMethod<&Region::Populate>("populate"),
          InstanceMethod<&Region::BackedBytes>("backedBytes"),
          InstanceMethod<&Region::BackedUntil>("backedUntil"),
      });
}

Region::Region(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Region>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowCode(env, "EINVAL", "path must be a string");
  OpenOptions options;
  options.path = info[0].As<Napi::String>().Utf8Value();
  if (options.path.find('\0') != std::string::npos)
    ThrowCode(env, "EINVAL", "path must not contain NUL bytes");
  if (!info[1].IsUndefined()) {
    if (!info[1].IsObject()) ThrowCode(env, "EINVAL", "options must be an object");
    Napi::Object o = info[1].As<Napi::Object>();
    options.create = OptBool(o, "create");
    options.size = OptIndex(o, "size", 0);
    options.mode = OptIndex(o, "mode", 0600);
    options.read_only = OptBool(o, "readOnly");
    options.require_map_sync = OptBool(o, "requireMapSync");
    options.force_msync = OptBool(o, "forceMsync");
    options.align = OptIndex(o, "align", 0);
    options.flush = OptString(o, "flush", "");
    options.sysfs_root = OptString(o, "sysfsRoot", "/sys");
    options.nt_threshold = OptIndex(o, "ntThreshold", 256);
  }
  core_ = OpenRegion(env, options);
  buffers_.Init(env, core_->base(), core_->map_length,
                std::make_shared<BufferHold>(BufferHold{core_, core_->span}));
  core_->longest_view = buffers_.longest_view();
}

Region::~Region() = default;

const std::shared_ptr<RegionCore>& Region::OpenCore(Napi::Env env) {
  RequireOpen(env, core_.get());
  return core_;
}

RegionCore& Region::Writable(Napi::Env env) { return RequireWritable(env, core_.get()); }

Napi::Value Region::Close(const Napi::CallbackInfo& info) {
  if (!core_ || !core_->open()) return info.Env().Undefined();
  // Mappings first: their buffers are detached before any page goes.
  std::vector<Reservation*> mappings = core_->mappings;
  for (Reservation* r : mappings) r->Release();
  buffers_.Detach();
  core_->Release();
  return info.Env().Undefined();
}

Napi::Value Region::Report(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RegionCore& c = *OpenCore(env);
  Napi::Object r = Napi::Object::New(env);
  r.Set("path", c.path);
  r.Set("kind", c.devdax ? "devdax" : "file");
  r.Set("size", Napi::Number::New(env, static_cast<double>(c.size)));
  r.Set("readOnly", c.read_only);
  r.Set("privateCopy", c.private_copy);
  r.Set("mapSync", c.map_sync);
  r.Set("mapSyncError", c.map_sync_errno ? Napi::Value(Napi::String::New(env, ErrnoName(c.map_sync_errno)))
                                         : env.Null());
  r.Set("persistence", PersistenceName(c.mode));
  r.Set("flush", FlushKindName(c.flush));
  r.Set("flushNeeded", c.flush_needed);
  r.Set("flushNote", c.flush_note);
  r.Set("persistenceDomain", c.persistence_domain);
  r.Set("align", Napi::Number::New(env, static_cast<double>(c.align)));
  r.Set("fsMagic", Napi::Number::New(env, static_cast<double>(c.fs_magic)));
  r.Set("ntThreshold", Napi::Number::New(env, static_cast<double>(c.nt_threshold)));
  r.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
  r.Set("viewsAvailable", c.views_safe);
  CpuFlushSupport cpu = DetectCpuFlushSupport();
  Napi::Object o = Napi::Object::New(env);
  o.Set("clflush", cpu.clflush);
  o.Set("clflushopt", cpu.clflushopt);
  o.Set("clwb", cpu.clwb);
  o.Set("dcCvac", cpu.dc_cvac);
  r.Set("cpu", o);
  r.Set("anonymousReadProbe", AnonProbeReport(env));
  r.Set("userfaultfdProbe", UffdProbeReport(env));
  r.Set("zeroSource", ZeroSourceReport(env));
  return r;
}

Napi::Value Region::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RegionStats& s = OpenCore(env)->stats;
  return NumbersObject(env, {{"persistCalls", s.persist_calls},
                             {"flushCalls", s.flush_calls},
                             {"flushedLines", s.flushed_lines},
                             {"fences", s.fences},
                             {"msyncCalls", s.msync_calls},
                             {"ntBytes", s.nt_bytes},
                             {"bytesWritten", s.bytes_written},
                             {"bytesRead", s.bytes_read}});
}

// arrayBuffer(index): window `index` over the region (see ExternalWindows).
Napi::Value Region::ArrayBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenCore(env);
  uint64_t index = ArgIndex(info, 0, "index");
  Napi::Value window = buffers_.Get(env, static_cast<size_t>(index));
  if (window.IsUndefined()) ThrowCode(env, "ERANGE", "no view window " + std::to_string(index));
  return window;
}

// rangeBuffer(offset, length): an ArrayBuffer over exactly that range.
Napi::Value Region::RangeBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t length = ArgIndex(info, 1, "length");
  CheckViewRange(env, c, offset, length);
  return buffers_.Range(env, offset, length);
}

// viewWindows(): { stride, length, count } of the view windows.
Napi::Value Region::ViewWindows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenCore(env);
  return NumbersObject(env, {{"stride", buffers_.stride()},
                             {"length", buffers_.window_length()},
                             {"count", buffers_.count()}});
}

Napi::Value Region::OnRange(const Napi::CallbackInfo& info, RangeOp op) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t length = ArgIndex(info, 1, "length");
  op(env, c, offset, length);
  return env.Undefined();
}

Napi::Value Region::CheckView(const Napi::CallbackInfo& info) { return OnRange(info, CheckViewRange); }
Napi::Value Region::Persist(const Napi::CallbackInfo& info) { return OnRange(info, RegionPersist); }
Napi::Value Region::Flush(const Napi::CallbackInfo& info) { return OnRange(info, RegionFlush); }
Napi::Value Region::Reserve(const Napi::CallbackInfo& info) { return OnRange(info, RegionReserve); }

Napi::Value Region::Populate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t length = ArgIndex(info, 1, "length");
  return Napi::Boolean::New(env, RegionPopulate(env, c, offset, length));
}

Napi::Value Region::BackedUntil(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  return Napi::Number::New(env, static_cast<double>(RegionBackedUntil(env, c, offset)));
}

Napi::Value Region::BackedBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<double>(RegionBackedBytes(env, *OpenCore(env))));
}

Napi::Value Region::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  ByteSpan target = ArgBytes(info, 1, "target");
  uint64_t target_offset = ArgIndex(info, 2, "targetOffset");
  uint64_t length = ArgIndex(info, 3, "length");
  return Napi::Number::New(env, static_cast<double>(RegionRead(env, c, offset, target, target_offset, length)));
}

Napi::Value Region::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = Writable(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  ByteSpan source = ArgBytes(info, 1, "source");
  uint64_t source_offset = ArgIndex(info, 2, "sourceOffset");
  uint64_t length = ArgIndex(info, 3, "length");
  // persist: a boolean, or 'flush' (written back, not fenced: see region_fast.cc)
  bool flush_only = info.Length() > 4 && info[4].IsString() && info[4].As<Napi::String>().Utf8Value() == "flush";
  bool persist = flush_only || ArgBool(info, 4, "persist", true);
  return Napi::Number::New(
      env, static_cast<double>(RegionWrite(env, c, offset, source, source_offset, length, persist, !flush_only)));
}

// writeScatter(source, list, count): `count` (regionOffset, sourceOffset,
// length) triples from `list` (a Float64Array), copied then persisted with
// one barrier. The journal stages and applies its records with it.
Napi::Value Region::WriteScatter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // privateCopy: the stores go to this process's private copy of a region
  // opened read-only (its pages are copy-on-write and never reach the
  // backing), for recovering in memory what a read-only open must not write.
  bool private_copy = ArgBool(info, 3, "privateCopy", false);
  RegionCore& c = private_copy ? *OpenCore(env) : Writable(env);
  if (private_copy && !c.private_copy)
    ThrowCode(env, "EINVAL", "privateCopy needs a region opened read-only with a private mapping (not device-dax)");
  ByteSpan source = ArgBytes(info, 0, "source");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowCode(env, "EINVAL", "list must be a Float64Array");
  Napi::Float64Array list = info[1].As<Napi::Float64Array>();
  uint64_t count = ArgIndex(info, 2, "count");
  if (count > list.ElementLength() / 3)
    ThrowCode(env, "ERANGE", "count " + std::to_string(count) + " needs " + std::to_string(count * 3) +
                                 " list entries, the list holds " + std::to_string(list.ElementLength()));
  if (private_copy) {
    // checked again by RegionWriteScatter; here only what the pages need
    for (uint64_t i = 0; i < count; i++) {
      uint64_t offset = CheckIndex(env, list.Data()[3 * i], "regionOffset");
      uint64_t length = CheckIndex(env, list.Data()[3 * i + 2], "length");
      CheckRange(env, offset, length, c.size, "regionOffset", "length", "region");
      PrivatizeHoles(env, c, offset, length);
    }
  }
  RegionWriteScatter(env, c, source, list.Data(), count, !private_copy);
  return env.Undefined();
}

// journalCommit(...): a journal commit in one call (journal_commit.h). The
// core goes as it is: a closed region's EBADF carries `committed` too.
Napi::Value Region::JournalCommit(const Napi::CallbackInfo& info) {
  return daxfs::JournalCommit(info, core_);
}

Napi::Value Region::Zero(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = Writable(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t length = ArgIndex(info, 1, "length");
  bool persist = ArgBool(info, 2, "persist", true);
  RegionZero(env, c, offset, length, persist);
  return env.Undefined();
}

// fastCalls(): the data path as plain functions bound to this region, taking
// their numeric arguments from a shared Float64Array (see region_fast.h).
Napi::Value Region::FastCalls(const Napi::CallbackInfo& info) {
  return MakeFastCalls(info.Env(), OpenCore(info.Env()));
}

Napi::Value Region::WriteAsync(const Napi::CallbackInfo& info) {
  return daxfs::WriteAsync(info, OpenCore(info.Env()));
}

Napi::Value Region::ReadAsync(const Napi::CallbackInfo& info) {
  return daxfs::ReadAsync(info, OpenCore(info.Env()));
}

// lock(exclusive): an advisory open-file-description lock on the backing
// (byte 0), released when the region is closed or the process dies. Returns
// false when another open file description holds a conflicting lock.
Napi::Value Region::Lock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  bool exclusive = ArgBool(info, 0, "exclusive", true);
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  if (fcntl(c.fd, F_OFD_SETLK, &fl) == 0) return Napi::Boolean::New(env, true);
  if (errno == EAGAIN || errno == EACCES) return Napi::Boolean::New(env, false);
  ThrowErrno(env, errno, "fcntl", "locking the region", c.path);
}

Napi::Value Region::Drain(const Napi::CallbackInfo& info) {
  OpenCore(info.Env())->Drain();
  return info.Env().Undefined();
}

// waitIdle(offset, length): returns once no asynchronous copy in flight
// touches the range (blocks being freed must have no user left).
Napi::Value Region::WaitIdle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t length = ArgIndex(info, 1, "length");
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  WaitUnpinned(c.mapped_ + offset, static_cast<size_t>(length));
  return env.Undefined();
}

// firstTouch(offset, length, stride, write): the kernel's own page-fault
// cost on a fresh shared mapping of the backing, for benchmarks.
Napi::Value Region::FirstTouch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t length = ArgIndex(info, 1, "length");
  uint64_t stride = ArgIndex(info, 2, "stride");
  bool write = ArgBool(info, 3, "write", false);
  CheckRange(env, offset, length, c.size, "offset", "length", "region");
  CheckAligned(env, offset, c.align, "offset");
  if (length == 0) ThrowCode(env, "EINVAL", "length must be at least 1");
  if (stride == 0) ThrowCode(env, "EINVAL", "stride must be at least 1");
  if (write && c.read_only) ThrowCode(env, "EROFS", "the region is open read-only");
  FirstTouchResult result;
  int err = MeasureFirstTouch(c, offset, length, stride, write, &result);
  if (err != 0) ThrowErrno(env, err, "mmap", "mapping the backing for the first-touch measurement", c.path);
  if (result.faulted) ThrowBackingFault(env, c, result.fault_offset, result.fault_code);
  Napi::Object out = Napi::Object::New(env);
  out.Set("touches", Napi::Number::New(env, static_cast<double>(result.touches)));
  out.Set("ns", Napi::Number::New(env, static_cast<double>(result.ns)));
  out.Set("mapNs", Napi::Number::New(env, static_cast<double>(result.map_ns)));
  return out;
}

// faultRoundTrip(offset, pages, mechanism): the bare cost of resolving a
// read fault in user space, per mechanism (fault_round_trip.h), over pages
// [offset, offset + pages * 4096) of the backing, for benchmarks.
Napi::Value Region::FaultRoundTrip(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t pages = ArgIndex(info, 1, "pages");
  if (!info[2].IsString()) ThrowCode(env, "EINVAL", "mechanism must be 'uffd-map', 'uffd-zeropage' or 'signal-map'");
  std::string name = info[2].As<Napi::String>().Utf8Value();
  FaultMechanism how;
  if (name == "uffd-map") how = FaultMechanism::kUffdMap;
  else if (name == "uffd-zeropage") how = FaultMechanism::kUffdZeroPage;
  else if (name == "signal-map") how = FaultMechanism::kSignalMap;
  else ThrowCode(env, "EINVAL", "mechanism must be 'uffd-map', 'uffd-zeropage' or 'signal-map', not '" + name + "'");
  if (pages == 0) ThrowCode(env, "EINVAL", "pages must be at least 1");
  if (pages > (c.size / 4096)) ThrowCode(env, "ERANGE", "pages: more than the region holds");
  CheckRange(env, offset, pages * 4096, c.size, "offset", "pages", "region");
  CheckAligned(env, offset, 4096, "offset");
  RoundTripResult result;
  const char* failed = nullptr;
  int err = MeasureFaultRoundTrip(c, offset, pages, how, &result, &failed);
  if (err != 0) ThrowErrno(env, err, failed, ("measuring the " + name + " fault round trip").c_str(), c.path);
  Napi::Object out = Napi::Object::New(env);
  out.Set("faults", Napi::Number::New(env, static_cast<double>(result.faults)));
  out.Set("ns", Napi::Number::New(env, static_cast<double>(result.ns)));
  return out;
}

// copyProbe(offsets, length, buffer, write): the region's copy primitives
// in a C loop over `offsets` (a Float64Array of byte offsets), for the
// benchmarks' floor. Every offset is checked before the first copy.
Napi::Value Region::CopyProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowCode(env, "EINVAL", "offsets must be a Float64Array");
  Napi::Float64Array offsets = info[0].As<Napi::Float64Array>();
  uint64_t length = ArgIndex(info, 1, "length");
  ByteSpan buffer = ArgBytes(info, 2, "buffer");
  bool write = ArgBool(info, 3, "write", false);
  if (write && c.read_only) ThrowCode(env, "EROFS", "the region is open read-only");
  CheckRange(env, 0, length, buffer.length, "bufferOffset", "length", "buffer");
  std::string why;
  if (!CheckUserBuffer(buffer.data, length, !write, &why)) ThrowCode(env, "EFAULT", "buffer: " + why);
  const double* list = offsets.Data();
  size_t count = offsets.ElementLength();
  for (size_t i = 0; i < count; i++)
    CheckRange(env, CheckIndex(env, list[i], "offsets[i]"), length, c.size, "offset", "length", "region");
  int err = 0;
  BusFault fault;
  int64_t ns = MeasureCopies(c, list, count, length, buffer.data, write, &err, &fault);
  if (ns == kProbeFaulted) ThrowBusFault(env, c, fault);
  if (ns < 0) ThrowErrno(env, err, "msync", "persisting a probe copy", c.path);
  Napi::Object out = Napi::Object::New(env);
  out.Set("copies", Napi::Number::New(env, static_cast<double>(count)));
  out.Set("ns", Napi::Number::New(env, static_cast<double>(ns)));
  return out;
}

// traceStart(): records every store, flush and fence from now on (tests).
Napi::Value Region::TraceStart(const Napi::CallbackInfo& info) {
  RegionCore& c = *OpenCore(info.Env());
  if (!c.trace) c.trace = std::make_unique<PersistTrace>();
  return info.Env().Undefined();
}

// traceMark(value): a marker in the trace (operation boundaries).
Napi::Value Region::TraceMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t value = ArgIndex(info, 0, "value");
  if (!c.trace) ThrowCode(env, "EINVAL", "no trace is being recorded: call traceStart() first");
  c.trace->Mark(value);
  return env.Undefined();
}

// traceTake(stop): the trace so far, as a Buffer; with stop, recording ends.
Napi::Value Region::TraceTake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  bool stop = ArgBool(info, 0, "stop", false);
  if (!c.trace) ThrowCode(env, "EINVAL", "no trace is being recorded: call traceStart() first");
  auto* log = new std::vector<uint8_t>(c.trace->Take());
  if (stop) c.trace.reset();
  return Napi::Buffer<uint8_t>::New(env, log->data(), log->size(),
                                    [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, log);
}

Napi::Value Region::Load64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  CheckAligned(env, offset, 8, "offset");
  CheckRange(env, offset, 8, c.size, "offset", "length", "region");
  auto* word = reinterpret_cast<uint64_t*>(c.base() + offset);
  uint64_t value = 0;
  GuardRegion(env, c, GuardRange{}, [&] { value = __atomic_load_n(word, __ATOMIC_ACQUIRE); });
  return Napi::BigInt::New(env, value);
}

Napi::Value Region::Store64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = Writable(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t value = ArgU64(info, 1, "value");
  RegionStore64(env, c, offset, value);
  return env.Undefined();
}

Napi::Value Region::Cas64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = Writable(env);
  uint64_t offset = ArgIndex(info, 0, "offset");
  uint64_t expected = ArgU64(info, 1, "expected");
  uint64_t desired = ArgU64(info, 2, "desired");
  CheckAligned(env, offset, 8, "offset");
  CheckRange(env, offset, 8, c.size, "offset", "length", "region");
  auto* word = reinterpret_cast<uint64_t*>(c.base() + offset);
  uint64_t previous = expected;
  int err = 0;
  GuardRegion(env, c, GuardRange{}, [&] {
    if (__atomic_compare_exchange_n(word, &previous, desired, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      c.stats.bytes_written += 8;
      c.TraceStore(offset, 8);
      err = c.Persist(offset, 8);
    }
  });
  ThrowPersistErrno(env, c, err, "persisting the range");
  return Napi::BigInt::New(env, previous);
}

Napi::Value Region::BitmapFind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t bitmap_offset = ArgIndex(info, 0, "bitmapOffset");
  uint64_t nbits = ArgIndex(info, 1, "nbits");
  uint64_t goal = ArgIndex(info, 2, "goal");
  uint64_t want = ArgIndex(info, 3, "want");
  uint64_t min_run = ArgIndex(info, 4, "minRun");
  FreeRun run = RegionBitmapFind(env, c, bitmap_offset, nbits, goal, want, min_run);
  if (!run.found) return env.Null();
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(uint32_t{0}, Napi::Number::New(env, static_cast<double>(run.start)));
  result.Set(uint32_t{1}, Napi::Number::New(env, static_cast<double>(run.length)));
  return result;
}

Napi::Value Region::BitmapChange(const Napi::CallbackInfo& info, bool set) {
  Napi::Env env = info.Env();
  RegionCore& c = Writable(env);
  uint64_t bitmap_offset = ArgIndex(info, 0, "bitmapOffset");
  uint64_t nbits = ArgIndex(info, 1, "nbits");
  uint64_t start = ArgIndex(info, 2, "start");
  uint64_t count = ArgIndex(info, 3, "count");
  uint64_t* words = BitmapWords(env, c, bitmap_offset, nbits);
  if (count == 0) ThrowCode(env, "EINVAL", "count must be at least 1");
  CheckRange(env, start, count, nbits, "start", "count", "bitmap");
  uint64_t first_byte = bitmap_offset + start / 64 * 8;
  uint64_t last_byte = bitmap_offset + (start + count - 1) / 64 * 8 + 8;
  uint64_t conflicts = 0;
  int err = 0;
  GuardRegion(env, c, GuardRange{}, [&] {
    // Refuse the whole change if any bit is already in the target state: a
    // double allocation or double free is reported, never half-applied.
    conflicts = CountInState(words, start, count, set);
    if (conflicts != 0) return;
    ApplyRun(words, start, count, set);
    c.stats.bytes_written += last_byte - first_byte;
    c.TraceStore(first_byte, last_byte - first_byte);
    err = c.Persist(first_byte, last_byte - first_byte);
  });
  ThrowPersistErrno(env, c, err, "persisting the range");
  return Napi::Number::New(env, static_cast<double>(conflicts));
}

Napi::Value Region::BitmapSet(const Napi::CallbackInfo& info) { return BitmapChange(info, true); }
Napi::Value Region::BitmapClear(const Napi::CallbackInfo& info) { return BitmapChange(info, false); }

Napi::Value Region::BitmapCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionCore& c = *OpenCore(env);
  uint64_t bitmap_offset = ArgIndex(info, 0, "bitmapOffset");
  uint64_t nbits = ArgIndex(info, 1, "nbits");
  const uint64_t* words = BitmapWords(env, c, bitmap_offset, nbits);
  uint64_t set = 0;
  GuardRegion(env, c, GuardRange{}, [&] { set = CountSet(words, nbits); });
  return Napi::Number::New(env, static_cast<double>(set));
}

}  // namespace daxfs
