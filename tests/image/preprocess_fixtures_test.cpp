// Every case of ../shared/fixtures/preprocess/manifest.jsonl and of tests/image/formats
// (the repository's own format cases): the decoded mode and size,
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

// Checks every case of a manifest; returns how many there were.
int check_cases(const std::filesystem::path& manifest) {
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
    const std::filesystem::path file = dir / r.at("file").get<std::string>();
    if (r.contains("expect_open_error")) {  // the reference cannot open it either
      EXPECT_THROW(clip::Image::open(file), clip::Error) << id << ": the reference says " << r["expect_open_error"];
      continue;
    }
    if (r.contains("expect_not_supported")) {  // a known gap, refused with a message that says so
      try {
        clip::Image::open(file);
        ADD_FAILURE() << id << ": opened; update its case (" << r["expect_not_supported"] << ")";
      } catch (const clip::Error& e) {
        EXPECT_NE(std::string(e.what()).find("not supported yet"), std::string::npos) << id << ": " << e.what();
      }
      continue;
    }
    clip::Image image;
    try {
      image = clip::Image::open(file);
    } catch (const clip::Error& e) {
      // The reference opens it but its transform fails: refusing it at once is as good, when
      // the message says why (a GIF whose L image carries a palette fails only when resized).
      if (!(r.contains("expect_error") && std::string(e.what()).find("the reference") != std::string::npos))
        ADD_FAILURE() << id << ": " << e.what();
      continue;
    }
    EXPECT_EQ(image.format(), r.at("format").get<std::string>()) << id;
    // Pillow's RGBX (RGB + a padding band) opens here as RGB: bands resize independently and
    // convert("RGB") drops the padding, so the two give the same pixels.
    const std::string mode = r.at("mode") == "RGBX" ? "RGB" : r.at("mode").get<std::string>();
    EXPECT_EQ(clip::mode_name(image.mode()), mode) << id;
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
    EXPECT_EQ(u8.shape(), golden_u8.shape()) << id;
    if (u8.shape() != golden_u8.shape()) continue;
    std::int64_t differing = 0;
    for (std::int64_t i = 0; i < u8.numel(); ++i)
      differing += u8.data<std::uint8_t>()[i] != golden_u8.data<std::uint8_t>()[i];
    EXPECT_EQ(differing, 0) << id << ": " << differing << " of " << u8.numel() << " bytes differ";

    if (!r.contains("golden_tensor_f32")) continue;  // the repository's cases keep uint8 only
    const clip::Tensor f = preprocess(image);
    const clip::Tensor golden_f = clip::load_npy(dir / r.at("golden_tensor_f32").get<std::string>());
    EXPECT_EQ(f.shape(), golden_f.shape()) << id;
    if (f.shape() != golden_f.shape()) continue;
    double max_diff = 0;
    for (std::int64_t i = 0; i < f.numel(); ++i)
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(f.data<float>()[i] - golden_f.data<float>()[i])));
    EXPECT_LE(max_diff, 1e-6) << id;
  }
  return cases;
}

TEST(PreprocessFixtures, AllCases) {
  CLIP_REQUIRE_SHARED_FILE(manifest, "fixtures/preprocess/manifest.jsonl");
  EXPECT_EQ(check_cases(manifest), 31);
}

// tests/image/formats: the layouts of every format, made and checked against Pillow 9.4 by
// tests/image/formats/make_cases.py (issue #21).
TEST(FormatCases, AllCases) {
  EXPECT_GE(check_cases(std::filesystem::path(CLIP_SOURCE_DIR) / "tests/image/formats/manifest.jsonl"), 20);
}

}  // namespace
