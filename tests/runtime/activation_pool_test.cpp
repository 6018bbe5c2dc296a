// runtime::ActivationPool: freed blocks come back for the next call of a similar size, the
// pool never holds more than twice the peak in use, and small blocks are left to malloc.
#include "runtime/activation_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

using clip::runtime::ActivationPool;

TEST(ActivationPool, SizeClassesRoundUpByAtMostAnEighth) {
  for (std::size_t bytes = ActivationPool::kPooled; bytes < (std::size_t{1} << 30); bytes = bytes * 9 / 7 + 13) {
    const std::size_t size = ActivationPool::size_class(bytes);
    EXPECT_GE(size, bytes);
    EXPECT_LE(size, bytes + bytes / 8) << bytes;
  }
  EXPECT_EQ(ActivationPool::size_class(1000), 1000u);  // below kPooled: as asked
}

TEST(ActivationPool, ABlockFreedIsTheNextCallsBlock) {
  auto pool = ActivationPool::create();
  void* first = nullptr;
  {
    auto a = pool->allocate(1 << 20);
    first = a.get();
    std::memset(a.get(), 1, 1 << 20);
  }
  EXPECT_EQ(pool->held(), std::size_t{1} << 20);
  auto b = pool->allocate((1 << 20) - 1000);  // same class
  EXPECT_EQ(b.get(), first);
  EXPECT_EQ(pool->held(), 0u);
  b.reset();
  auto c = pool->allocate(600'000);  // smaller (a smaller batch): the held block fits
  EXPECT_EQ(c.get(), first);
  c.reset();
  auto d = pool->allocate(400'000);  // less than half of it: a block of its own
  EXPECT_NE(d.get(), first);
}

TEST(ActivationPool, HoldsAtMostTwiceThePeakInUse) {
  auto pool = ActivationPool::create();
  {
    std::vector<std::shared_ptr<void>> call;  // a call: 4 MB live at once
    for (int i = 0; i < 4; ++i) call.push_back(pool->allocate(1 << 20));
  }
  EXPECT_EQ(pool->peak(), std::size_t{4} << 20);
  EXPECT_EQ(pool->held(), std::size_t{4} << 20);
  // A call of another size, its block freed and asked for again layer after layer: it is
  // kept (beside the first call's blocks), not freed and allocated afresh each time.
  for (int layer = 0; layer < 4; ++layer) {
    pool->allocate(3 << 20);
    EXPECT_EQ(pool->held(), std::size_t{7} << 20) << layer;
  }
  // Many sizes, one at a time: they cannot all be kept.
  for (std::size_t size = 200'000; size < 20'000'000; size = size * 3 / 2) pool->allocate(size);
  EXPECT_LE(pool->held(), 2 * pool->peak());
  EXPECT_LE(pool->peak(), std::size_t{24} << 20);  // the largest single block, not their sum
}

TEST(ActivationPool, BlocksOutliveThePoolsOwner) {
  std::shared_ptr<void> block;
  {
    auto pool = ActivationPool::create();
    block = pool->allocate(1 << 20);
  }
  std::memset(block.get(), 0, 1 << 20);  // still valid; the pool goes with the last block (ASan)
}

}  // namespace
