#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/half.h"

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

}  // namespace

TEST(Bfloat16, RoundsToNearestEvenAndKeepsSpecialValues) {
  // 37 values: two full AVX-512 blocks and a scalar tail, each case in both.
  const std::vector<std::pair<float, std::uint16_t>> cases = {
      {1.0f, 0x3F80},
      {-2.5f, 0xC020},
      {from_bits(0x3F808000), 0x3F80},  // halfway, even below: stays
      {from_bits(0x3F818000), 0x3F82},  // halfway, odd below: rounds up to even
      {from_bits(0x3F808001), 0x3F81},  // above halfway: up
      {from_bits(0x3F807FFF), 0x3F80},  // below halfway: down
      {from_bits(0x7F7FFFFF), 0x7F80},  // largest float rounds to infinity
      {std::numeric_limits<float>::infinity(), 0x7F80},
      {-std::numeric_limits<float>::infinity(), 0xFF80},
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {from_bits(0x00000001), 0x0000},  // smallest subnormal
      {from_bits(0x7F800001), 0x7FC0},  // signalling NaN stays a NaN (quieted)
      {from_bits(0xFFC00000), 0xFFC0},
  };
  std::vector<float> in;
  std::vector<std::uint16_t> expected;
  for (int i = 0; in.size() < 37; ++i) {
    in.push_back(cases[i % cases.size()].first);
    expected.push_back(cases[i % cases.size()].second);
  }
  std::vector<std::uint16_t> out(in.size(), 0xDEAD);
  clip::core::float_to_bfloat16(in.data(), out.data(), static_cast<std::int64_t>(in.size()));
  for (std::size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(out[i], expected[i]) << "value " << i << " (bits 0x" << std::hex << bits_of(in[i]) << ")";
}

TEST(Bfloat16, LargeArraysAreConvertedWhole) {
  // Past the size where the work is split across threads; every value exactly representable.
  std::vector<float> in(100003);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(static_cast<int>(i % 256) - 128);
  std::vector<std::uint16_t> out(in.size());
  clip::core::float_to_bfloat16(in.data(), out.data(), static_cast<std::int64_t>(in.size()));
  for (std::size_t i = 0; i < in.size(); ++i)
    ASSERT_EQ(from_bits(static_cast<std::uint32_t>(out[i]) << 16), in[i]) << "at " << i;
}

TEST(Half, ConvertsExactly) {
  const std::vector<std::uint16_t> in = {0x3C00, 0xC000, 0x0001, 0x7BFF, 0x7C00, 0x8000};
  std::vector<float> out(in.size());
  clip::core::half_to_float(in.data(), out.data(), static_cast<std::int64_t>(in.size()));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[3], 65504.0f);
  EXPECT_TRUE(std::isinf(out[4]));
  EXPECT_EQ(bits_of(out[5]), 0x80000000u);
}
