// A test mode of the persistence layer: records, in order, every store the
// engine makes to a region through its own primitives (with the bytes
// stored), every cache-line flush and every fence, plus markers placed by
// the caller. The crash-state simulator (test/reliability) rebuilds from it
// the images a power failure could leave at each fence. Off unless started;
// when off it costs one null check per primitive.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

namespace daxfs {

class PersistTrace {
 public:
  // Event kinds, the first byte of each record. Records are little-endian:
  //   kStore: kind, u64 offset, u64 length, length bytes of data
  //   kFlush: kind, u64 offset, u64 length
  //   kFence: kind
  //   kMark:  kind, u64 value
  static constexpr uint8_t kStore = 1;
  static constexpr uint8_t kFlush = 2;
  static constexpr uint8_t kFence = 3;
  static constexpr uint8_t kMark = 4;

  // Thread-safe: asynchronous copies record from the thread pool.
  void Store(uint64_t offset, const uint8_t* data, uint64_t length);
  void Flush(uint64_t offset, uint64_t length);
  void Fence();
  void Mark(uint64_t value);
  // Returns the log so far and starts an empty one.
  std::vector<uint8_t> Take();

 private:
  void Put64(uint64_t v);

  std::mutex mutex_;
  std::vector<uint8_t> log_;
};

}  // namespace daxfs
