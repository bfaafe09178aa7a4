// Fast calls: the hot data-path operations of one region as plain functions
// (no wrapper object to unwrap, no per-argument conversions) that read their
// numeric arguments from a Float64Array shared with JS. A call crosses the
// boundary with at most one argument, the user's buffer; native code still
// checks every value it reads from the block, exactly as the methods do.
//
// Argument block layout, by operation:
//   write(source):  [offset, sourceOffset, length, persist (0 or 1)]
//   read(target):   [offset, targetOffset, length]
//   zero():         [offset, length, persist (0 or 1)]
//   persist():      [offset, length]
//   flush():        [offset, length]
//   checkView():    [offset, length]
//   store64():      [offset, value (a safe integer)]
//   bitmapFind():   [bitmapOffset, nbits, goal, want, minRun] → start or -1; length in [5]
// write and read return the byte count.
#pragma once

#include <napi.h>

#include <memory>

#include "region_core.h"

namespace daxfs {

// Returns { args: Float64Array, write, read, zero, persist, flush, checkView, store64, bitmapFind }.
Napi::Object MakeFastCalls(Napi::Env env, std::shared_ptr<RegionCore> core);

}  // namespace daxfs
