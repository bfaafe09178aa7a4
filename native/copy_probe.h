// A benchmark helper: the region's own copy primitives (CopyIn, durable, as
// write() uses them; the plain copy out that read() makes) run in a C loop
// over a list of offsets, with no JavaScript and no Node-API call per copy.
// The pool benchmark prints it beside the file read/write figures: it is the
// floor this machine's memory sets, and so the best ratio any implementation
// could reach against the kernel's read/write here.
#pragma once

#include <cstdint>

#include "fault_guard.h"
#include "region_core.h"

namespace daxfs {

// Copies `length` bytes between `buffer` and the region at each of `offsets`
// (into the region, durable, with `write`; out of it otherwise) and returns
// the nanoseconds the loop took; -1 with *err set when a durable copy's
// msync failed; kProbeFaulted with *fault set when the backing could not
// supply a page (fault_guard.h). The caller has checked every offset + length.
constexpr int64_t kProbeFaulted = -2;
int64_t MeasureCopies(RegionCore& core, const double* offsets, uint64_t count, uint64_t length,
                      uint8_t* buffer, bool write, int* err, BusFault* fault);

}  // namespace daxfs
