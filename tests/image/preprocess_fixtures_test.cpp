// Every case of ../shared/fixtures/preprocess/manifest.jsonl: the decoded mode and size,
// the uint8 image after Resize + CenterCrop + convert("RGB") byte for byte, and the
// normalised float tensor within 1e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clip/image.h"
#include "clip/npy.h"
#include "test_data.h"

namespace {

TEST(PreprocessFixtures, AllCases) {
  CLIP_REQUIRE_SHARED_FILE(manifest, "fixtures/preprocess/manifest.jsonl");
  const std::filesystem::path dir = manifest.parent_path();
  std::ifstream in(manifest);
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto r = nlohmann::json::parse(line);
    const std::string id = r.at("id");
    SCOPED_TRACE(id);
    ++cases;
    const clip::Image image = clip::Image::open(dir / r.at("file").get<std::string>());
    EXPECT_EQ(image.format(), r.at("format").get<std::string>()) << id;
    EXPECT_EQ(clip::mode_name(image.mode()), r.at("mode").get<std::string>()) << id;
    EXPECT_EQ(image.width(), r.at("size")[0].get<int>()) << id;
    EXPECT_EQ(image.height(), r.at("size")[1].get<int>()) << id;
    const clip::Preprocess preprocess(r.at("n_px").get<int>());

    if (r.contains("expect_error")) {
      EXPECT_THROW(preprocess(image), clip::Error) << id;
      continue;
    }
    const clip::Image rgb = preprocess.resize_crop_rgb(image);
    const clip::Tensor u8 = clip::Preprocess::to_uint8_tensor(rgb);
    const clip::Tensor golden_u8 = clip::load_npy(dir / r.at("golden_rgb_u8").get<std::string>());
    ASSERT_EQ(u8.shape(), golden_u8.shape()) << id;
    std::int64_t differing = 0;
    for (std::int64_t i = 0; i < u8.numel(); ++i)
      differing += u8.data<std::uint8_t>()[i] != golden_u8.data<std::uint8_t>()[i];
    EXPECT_EQ(differing, 0) << id << ": " << differing << " of " << u8.numel() << " bytes differ";

    const clip::Tensor f = preprocess(image);
    const clip::Tensor golden_f = clip::load_npy(dir / r.at("golden_tensor_f32").get<std::string>());
    ASSERT_EQ(f.shape(), golden_f.shape()) << id;
    double max_diff = 0;
    for (std::int64_t i = 0; i < f.numel(); ++i)
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(f.data<float>()[i] - golden_f.data<float>()[i])));
    EXPECT_LE(max_diff, 1e-6) << id;
  }
  EXPECT_EQ(cases, 31);
}

}  // namespace
