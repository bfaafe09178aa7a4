// The zero source and the anonymous-read probe as JS objects, for the
// capability report and the addon's own functions.
#pragma once

#include <napi.h>

namespace daxfs {

// { kind: 'memfd', bytes, sealed, vmas, vmaLimit, maxMapCount, error }
Napi::Object ZeroSourceReport(Napi::Env env);
// { bytes, rssKiB, privateKiB, error }: see anon_probe.h.
Napi::Object AnonProbeReport(Napi::Env env);

}  // namespace daxfs
