// Per-environment state of the addon (one per main thread or worker).
#pragma once

#include <napi.h>

namespace daxfs {

struct AddonData {
  Napi::FunctionReference region_constructor;
  Napi::FunctionReference mapping_constructor;
};

}  // namespace daxfs
