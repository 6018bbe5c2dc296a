#include <gtest/gtest.h>

#include "clip/tensor.h"

TEST(Tensor, ZeroFilledWithShape) {
  clip::Tensor t({2, 3}, clip::DType::Int32);
  EXPECT_EQ(t.dim(), 2);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.shape_string(), "[2, 3]");
  for (std::int32_t v : t.to_vector<std::int32_t>()) EXPECT_EQ(v, 0);
}

TEST(Tensor, ElementAccessIsRowMajorAndChecked) {
  auto t = clip::Tensor::from_vector<float>({2, 2}, {1.f, 2.f, 3.f, 4.f});
  EXPECT_EQ(t.at<float>({1, 0}), 3.f);
  t.at<float>({0, 1}) = 7.f;
  EXPECT_EQ(t.data<float>()[1], 7.f);
  EXPECT_THROW(t.at<float>({2, 0}), clip::Error);
  EXPECT_THROW(t.at<float>({0}), clip::Error);
  EXPECT_THROW(t.data<std::int32_t>(), clip::Error);
  EXPECT_THROW(t.size(2), clip::Error);
}

TEST(Tensor, RejectsBadShapes) {
  EXPECT_THROW(clip::Tensor({-1, 2}, clip::DType::Float32), clip::Error);
  EXPECT_THROW(clip::Tensor::from_vector<std::int64_t>({3}, {1, 2}), clip::Error);
  EXPECT_THROW(clip::Tensor({1 << 30, 1 << 30, 1 << 30}, clip::DType::Float32), clip::Error);
}
