// faultGrant, faultRevoke, faultAdoptions, faultCounters, faultWake: a
// region's fault reserve as the TypeScript layer drives it (fault_service.h).
#pragma once

#include <napi.h>

namespace daxfs {

void AddFaultReserveFunctions(Napi::Env env, Napi::Object exports);

}  // namespace daxfs
