#include "zero_report.h"

#include <cstdint>
#include <string>

#include "anon_probe.h"
#include "errors.h"
#include "uffd_probe.h"
#include "zero_source.h"

namespace daxfs {
namespace {

Napi::Value ErrorName(Napi::Env env, int err, const char* call) {
  if (err == 0) return env.Null();
  return Napi::String::New(env, std::string(call) + ": " + ErrnoName(err));
}

}  // namespace

Napi::Object ZeroSourceReport(Napi::Env env) {
  const ZeroSource& z = GetZeroSource();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", z.fd >= 0 ? "memfd" : "none");
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(z.fd >= 0 ? z.bytes : 0)));
  o.Set("sealed", z.sealed);
  o.Set("vmas", Napi::Number::New(env, static_cast<double>(ZeroPieces())));
  uint64_t limit = ZeroPieceLimit();
  o.Set("vmaLimit", limit == UINT64_MAX ? env.Null()
                                        : Napi::Value(Napi::Number::New(env, static_cast<double>(limit))));
  o.Set("maxMapCount", Napi::Number::New(env, static_cast<double>(MaxMapCount())));
  o.Set("error", ErrorName(env, z.err, z.failed_call));
  return o;
}

Napi::Object AnonProbeReport(Napi::Env env) {
  const AnonProbe& p = ProbeAnonymousReads();
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(p.bytes)));
  o.Set("rssKiB", Napi::Number::New(env, static_cast<double>(p.rss_kib)));
  o.Set("privateKiB", Napi::Number::New(env, static_cast<double>(p.private_kib)));
  o.Set("error", ErrorName(env, p.err, "probe"));
  return o;
}

namespace {

Napi::Object WayReport(Napi::Env env, const UffdWay& way, const char* call) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", way.available);
  o.Set("error", ErrorName(env, way.err, call));
  return o;
}

}  // namespace

Napi::Object UffdProbeReport(Napi::Env env) {
  const UffdProbe& p = ProbeUserfaultfd();
  Napi::Object o = Napi::Object::New(env);
  o.Set("syscall", WayReport(env, p.syscall_full, "userfaultfd"));
  o.Set("userModeOnly", WayReport(env, p.syscall_user, "userfaultfd"));
  o.Set("device", WayReport(env, p.device, "/dev/userfaultfd"));
  Napi::Array features = Napi::Array::New(env);
  std::string names = UffdFeatureNames(p.features);
  for (size_t at = 0, k = 0; at < names.size();) {
    size_t comma = names.find(',', at);
    if (comma == std::string::npos) comma = names.size();
    features.Set(static_cast<uint32_t>(k++), names.substr(at, comma - at));
    at = comma + 1;
  }
  o.Set("features", features);
  o.Set("error", ErrorName(env, p.api_err, "UFFDIO_API"));
  return o;
}

}  // namespace daxfs
