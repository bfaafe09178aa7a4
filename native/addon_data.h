// Per-environment state of the addon (one per main thread or worker).
#pragma once

#include <napi.h>

namespace daxfs {

// The Region constructor, so that new Mapping(region, …) can check its argument.
struct AddonData {
  Napi::FunctionReference region_constructor;
};

}  // namespace daxfs
