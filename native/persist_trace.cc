#include "persist_trace.h"

namespace daxfs {

void PersistTrace::Put64(uint64_t v) {
  for (int i = 0; i < 8; i++) log_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PersistTrace::Store(uint64_t offset, const uint8_t* data, uint64_t length) {
  if (length == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  log_.push_back(kStore);
  Put64(offset);
  Put64(length);
  log_.insert(log_.end(), data, data + length);
}

void PersistTrace::Flush(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  log_.push_back(kFlush);
  Put64(offset);
  Put64(length);
}

void PersistTrace::Fence() {
  std::lock_guard<std::mutex> lock(mutex_);
  log_.push_back(kFence);
}

void PersistTrace::Mark(uint64_t value) {
  std::lock_guard<std::mutex> lock(mutex_);
  log_.push_back(kMark);
  Put64(value);
}

std::vector<uint8_t> PersistTrace::Take() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint8_t> out;
  out.swap(log_);
  return out;
}

}  // namespace daxfs
