// The zero source and the kernel probes (anonymous reads, userfaultfd) as
// JS objects, for the capability report and the addon's own functions.
#pragma once

#include <napi.h>

namespace daxfs {

// { kind: 'memfd', bytes, sealed, vmas, vmaLimit, maxMapCount, error }
Napi::Object ZeroSourceReport(Napi::Env env);
// { bytes, rssKiB, privateKiB, error }: see anon_probe.h.
Napi::Object AnonProbeReport(Napi::Env env);
// { syscall, userModeOnly, device: { available, error }, features: string[],
// error }: see uffd_probe.h.
Napi::Object UffdProbeReport(Napi::Env env);

}  // namespace daxfs
