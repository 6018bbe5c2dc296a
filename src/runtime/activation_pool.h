// Activation memory kept for reuse between a model's calls. A forward pass allocates and
// frees its activations by the megabyte, and glibc's malloc gave much of that back to the
// kernel between calls and faulted it in again: its thresholds move with the history of
// sizes, so the same ViT-B/32 batch of 8 ran in 183 ms after batches of 8 only, and in
// 250-285 ms with ~2,800-5,800 page faults per call after batches of 1 or text calls
// (2 cores; the spread bench/compare and bench/serve_load showed from run to run).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace clip::runtime {

class ActivationPool : public std::enable_shared_from_this<ActivationPool> {
 public:
  static std::shared_ptr<ActivationPool> create() { return std::shared_ptr<ActivationPool>(new ActivationPool); }
  ~ActivationPool();
  ActivationPool(const ActivationPool&) = delete;
  ActivationPool& operator=(const ActivationPool&) = delete;

  // At least `bytes`, uninitialised; given back to the pool when the last owner lets go.
  // Blocks below kPooled come from malloc directly (malloc keeps those itself).
  std::shared_ptr<void> allocate(std::size_t bytes);

  // The size class a request of `bytes` gets: rounded up to an eighth of its power of two
  // (at most 12.5% more), so that nearby sizes share blocks.
  static std::size_t size_class(std::size_t bytes);
  static constexpr std::size_t kPooled = 128 * 1024;  // glibc's initial mmap threshold

  // Bytes held for reuse, and the most bytes that were in use at once. Held + in use <=
  // 2 x peak: a call of another batch size finds the blocks it needs, and the pool never
  // keeps more than twice what the largest call needed. (Held <= peak freed the MLP's
  // block at the end of every layer of a batch of 6 that came after a batch of 8, and
  // allocated it afresh in the next: 12 fresh 5 MB blocks per call.)
  std::size_t held() const;
  std::size_t peak() const;

 private:
  ActivationPool() = default;
  void give_back(void* block, std::size_t size);

  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;  // size class -> blocks (none empty)
  std::size_t held_ = 0, live_ = 0, peak_ = 0;
};

}  // namespace clip::runtime
