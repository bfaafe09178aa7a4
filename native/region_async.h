// Asynchronous copy in and out of a region off the main thread (through the
// copy queue, copy_queue.h), for large transfers that should not block it. The region stays
// mapped until every copy in flight has finished, even if it is closed
// meanwhile, and the JS buffer is held until the copy is done.
#pragma once

#include <napi.h>

#include <memory>

#include "region_core.h"

namespace daxfs {

// writeAsync(offset, source, sourceOffset, length, persist) → Promise<number>
Napi::Value WriteAsync(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core);
// readAsync(offset, target, targetOffset, length) → Promise<number>
Napi::Value ReadAsync(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core);

}  // namespace daxfs
