// Per-environment state of the addon (one per main thread or worker).
#pragma once

#include <napi.h>

namespace daxfs {

struct AddonData {
  // The Region constructor, so that new Mapping(region, …) can check its argument.
  Napi::FunctionReference region_constructor;
  // The TypeScript DaxfsError class (errors.h); empty until setErrorClass.
  Napi::FunctionReference error_class;
};

}  // namespace daxfs
