#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/memory.h"

namespace {

std::uintptr_t address(const std::shared_ptr<std::byte>& p) { return reinterpret_cast<std::uintptr_t>(p.get()); }

}  // namespace

TEST(Memory, LastingAllocationsAreAlignedApartAndOutliveEachOther) {
  // Sizes that share a block, one larger than a block (32 MB), and empty ones.
  const std::vector<std::size_t> sizes = {1, 100, 0, 4096, 3 << 20, 40 << 20, 64, 5, 0, 7 << 20};
  std::vector<std::shared_ptr<std::byte>> blocks;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    blocks.push_back(clip::core::allocate_lasting(sizes[i]));
    ASSERT_NE(blocks.back(), nullptr);
    EXPECT_EQ(address(blocks.back()) % 64, 0u) << "allocation " << i;
    std::memset(blocks.back().get(), static_cast<int>(i + 1), std::max<std::size_t>(sizes[i], 1));
  }
  // No two overlap (each at least 1 byte, as a zero-byte one still gets an address of its own).
  for (std::size_t i = 0; i < sizes.size(); ++i)
    for (std::size_t j = i + 1; j < sizes.size(); ++j) {
      const auto a = address(blocks[i]), b = address(blocks[j]);
      EXPECT_TRUE(a + std::max<std::size_t>(sizes[i], 1) <= b || b + std::max<std::size_t>(sizes[j], 1) <= a)
          << "allocations " << i << " and " << j << " overlap";
    }
  // Letting some go leaves the others intact (a block lives while any allocation in it does).
  for (std::size_t i = 0; i < sizes.size(); i += 2) blocks[i].reset();
  for (std::size_t i = 1; i < sizes.size(); i += 2) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(blocks[i].get());
    const std::size_t n = std::max<std::size_t>(sizes[i], 1);
    EXPECT_EQ(bytes[0], i + 1) << "allocation " << i;
    EXPECT_EQ(bytes[n - 1], i + 1) << "allocation " << i;
  }
  // After all are gone, new ones come from a fresh block and are usable.
  blocks.clear();
  const auto again = clip::core::allocate_lasting(1000);
  std::memset(again.get(), 7, 1000);
  EXPECT_EQ(address(again) % 64, 0u);
}
