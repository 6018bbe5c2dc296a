#include <gtest/gtest.h>

#include <fstream>

#include "clip/npy.h"

TEST(Npy, RoundTripsEveryDtype) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto f = clip::Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6.5f});
  clip::save_npy(dir / "clip_f.npy", f);
  const clip::Tensor g = clip::load_npy(dir / "clip_f.npy");
  EXPECT_EQ(g.shape(), f.shape());
  EXPECT_EQ(g.to_vector<float>(), f.to_vector<float>());

  const auto v = clip::Tensor::from_vector<std::int32_t>({4}, {1, -2, 3, 4});
  clip::save_npy(dir / "clip_i.npy", v);
  EXPECT_EQ(clip::load_npy(dir / "clip_i.npy").to_vector<std::int32_t>(), v.to_vector<std::int32_t>());

  const auto u = clip::Tensor::from_vector<std::uint8_t>({1, 1, 2}, {7, 255});
  clip::save_npy(dir / "clip_u.npy", u);
  EXPECT_EQ(clip::load_npy(dir / "clip_u.npy").shape(), (clip::Tensor::Shape{1, 1, 2}));
}

TEST(Npy, BadFilesAreClearErrors) {
  const auto dir = std::filesystem::temp_directory_path();
  EXPECT_THROW(clip::load_npy(dir / "clip_does_not_exist.npy"), clip::Error);
  std::ofstream(dir / "clip_bad.npy") << "not numpy";
  EXPECT_THROW(clip::load_npy(dir / "clip_bad.npy"), clip::Error);
  // A header that promises more data than the file holds.
  clip::save_npy(dir / "clip_trunc.npy", clip::Tensor({100}, clip::DType::Float32));
  std::filesystem::resize_file(dir / "clip_trunc.npy", 200);
  EXPECT_THROW(clip::load_npy(dir / "clip_trunc.npy"), clip::Error);
}

TEST(Npy, SpecialFilesAreWrittenNotReplaced) {
  // Saving to /dev/null must not rename a regular file over the device.
  clip::save_npy("/dev/null", clip::Tensor::from_vector<float>({2}, {1.0f, 2.0f}));
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  EXPECT_THROW(clip::save_npy(std::filesystem::temp_directory_path(), clip::Tensor({1}, clip::DType::Float32)),
               clip::Error);
}

TEST(Npy, RowsAreReadOnDemandAsLoadReadsThem) {
  const auto path = std::filesystem::temp_directory_path() / "clip_rows.npy";
  std::vector<float> values(5 * 3);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * static_cast<float>(i);
  clip::save_npy(path, clip::Tensor::from_vector<float>({5, 3}, values).to(clip::DType::Float16));
  const clip::NpyFile file(path);
  EXPECT_EQ(file.dtype(), clip::DType::Float16);
  EXPECT_EQ(file.shape(), (clip::Tensor::Shape{5, 3}));
  const clip::Tensor rows = file.rows(2, 2);
  EXPECT_EQ(rows.shape(), (clip::Tensor::Shape{2, 3}));
  EXPECT_EQ(rows.to(clip::DType::Float32).to_vector<float>(),
            std::vector<float>(values.begin() + 6, values.begin() + 12));
  EXPECT_EQ(file.rows(0, 5).to(clip::DType::Float32).to_vector<float>(),
            clip::load_npy(path).to(clip::DType::Float32).to_vector<float>());
  EXPECT_EQ(file.rows(5, 0).numel(), 0);
  EXPECT_THROW(file.rows(4, 2), clip::Error);
  EXPECT_THROW(file.rows(-1, 1), clip::Error);
  // The file cut short after it was opened: an error, not garbage.
  std::filesystem::resize_file(path, 100);
  EXPECT_THROW(file.rows(3, 2), clip::Error);
}
