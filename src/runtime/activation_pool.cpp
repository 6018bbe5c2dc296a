// ActivationPool: freed blocks by size class, bounded by twice the peak in use.
#include "runtime/activation_pool.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

namespace clip::runtime {

ActivationPool::~ActivationPool() {
  for (auto& [size, blocks] : free_)
    for (void* block : blocks) std::free(block);
}

std::size_t ActivationPool::size_class(std::size_t bytes) {
  if (bytes < kPooled) return bytes;
  const std::size_t step = std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

std::shared_ptr<void> ActivationPool::allocate(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 1);
  if (bytes < kPooled) {
    void* block = std::malloc(bytes);
    if (!block) throw std::bad_alloc();
    return std::shared_ptr<void>(block, [](void* p) { std::free(p); });
  }
  std::size_t size = size_class(bytes);
  void* block = nullptr;
  {
    std::lock_guard lock(mutex_);
    // The smallest held block that fits, up to twice the size: a batch of 7 takes the
    // blocks a batch of 8 left.
    if (auto it = free_.lower_bound(size); it != free_.end() && it->first <= 2 * size) {
      size = it->first;
      block = it->second.back();
      it->second.pop_back();
      if (it->second.empty()) free_.erase(it);
      held_ -= size;
    }
    live_ += size;
    peak_ = std::max(peak_, live_);
  }
  if (!block) block = std::malloc(size);
  if (!block) {
    std::lock_guard lock(mutex_);
    live_ -= size;
    throw std::bad_alloc();
  }
  return std::shared_ptr<void>(block, [pool = shared_from_this(), size](void* p) { pool->give_back(p, size); });
}

void ActivationPool::give_back(void* block, std::size_t size) {
  {
    std::lock_guard lock(mutex_);
    live_ -= size;
    if (held_ + live_ + size <= 2 * peak_) {
      free_[size].push_back(block);
      held_ += size;
      return;
    }
  }
  std::free(block);
}

std::size_t ActivationPool::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

std::size_t ActivationPool::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

}  // namespace clip::runtime
