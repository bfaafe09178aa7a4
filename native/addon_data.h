// Per-environment state of the addon (one per main thread or worker).
#pragma once

#include <napi.h>

#include <memory>

namespace daxfs {

class CopyQueue;  // copy_queue.cc

struct AddonData {
  // The Region constructor, so that new Mapping(region, …) can check its argument.
  Napi::FunctionReference region_constructor;
  // The TypeScript DaxfsError class (errors.h); empty until setErrorClass.
  Napi::FunctionReference error_class;
  // Where asynchronous copies queue (copy_queue.h); made on first use.
  std::shared_ptr<CopyQueue> copy_queue;
};

}  // namespace daxfs
