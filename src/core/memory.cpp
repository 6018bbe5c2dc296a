#include "core/memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>

namespace clip::core {

namespace {

std::size_t round_up(std::size_t bytes, std::size_t multiple) { return (bytes + multiple - 1) / multiple * multiple; }

// `bytes` rounded up to whole `alignment`s (aligned_alloc's rule), at least one.
std::byte* aligned(std::size_t alignment, std::size_t bytes) {
  void* p = std::aligned_alloc(alignment, round_up(std::max<std::size_t>(bytes, 1), alignment));
  if (!p) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

}  // namespace

std::shared_ptr<std::byte> allocate(std::size_t bytes) {
  return std::shared_ptr<std::byte>(aligned(64, bytes), [](std::byte* q) { std::free(q); });
}

std::shared_ptr<std::byte> allocate_lasting(std::size_t bytes) {
  constexpr std::size_t kHuge = std::size_t{2} << 20, kBlock = 16 * kHuge;
  static std::mutex mutex;
  static std::weak_ptr<std::byte> filling;  // the block being filled, freed with its last weight
  static std::size_t used = 0, capacity = 0;
  const std::size_t size = round_up(std::max<std::size_t>(bytes, 1), 64);
  std::lock_guard lock(mutex);
  std::shared_ptr<std::byte> block = filling.lock();
  if (!block || used + size > capacity) {
    capacity = round_up(std::max(size, kBlock), kHuge);
    block.reset(aligned(kHuge, capacity), [](std::byte* q) { std::free(q); });
    madvise(block.get(), capacity, MADV_HUGEPAGE);  // advice only: ignored where unsupported
    filling = block;
    used = 0;
  }
  std::shared_ptr<std::byte> p(block, block.get() + used);  // shares the block's ownership
  used += size;
  return p;
}

}  // namespace clip::core
