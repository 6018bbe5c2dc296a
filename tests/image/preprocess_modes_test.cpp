// open_clip's transforms beside OpenAI's: resize modes (squash, longest with its padding),
// bilinear, mean and std. The resampling itself is Pillow's (preprocess_fixtures_test.cpp);
// here: the geometry and the numbers each mode adds.
#include <gtest/gtest.h>

#include "clip/error.h"
#include "clip/image.h"

namespace {

// A solid image, so that resampling leaves every covered pixel at its colour.
clip::Image solid(int w, int h, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  clip::Image image(clip::ImageMode::RGB, w, h);
  for (int i = 0; i < w * h; ++i) {
    image.pixels()[i * 3] = r;
    image.pixels()[i * 3 + 1] = g;
    image.pixels()[i * 3 + 2] = b;
  }
  return image;
}

clip::Preprocess with(const std::string& resize_mode, const std::string& interpolation = "bicubic", int size = 32) {
  clip::PreprocessConfig c;
  c.size = size;
  c.resize_mode = resize_mode;
  c.interpolation = interpolation;
  return clip::Preprocess(c);
}

// Rows of the uint8 result that are the colour (1) or black padding (0).
std::string rows(const clip::Image& rgb) {
  std::string out;
  for (int y = 0; y < rgb.height(); ++y) out += rgb.pixels()[(y * rgb.width() + rgb.width() / 2) * 3] ? '1' : '0';
  return out;
}

TEST(PreprocessModes, LongestPadsTheShortSideCentred) {
  // 100 x 50 -> 32 x 16, 8 rows of padding above and below.
  EXPECT_EQ(rows(with("longest").resize_crop_rgb(solid(100, 50, 200, 10, 10))),
            std::string(8, '0') + std::string(16, '1') + std::string(8, '0'));
  // 64 x 18 -> 32 x 9 (round(18 / 2) = 9): 23 rows of padding, 11 above, 12 below
  // (torchvision puts the odd one at the bottom).
  EXPECT_EQ(rows(with("longest").resize_crop_rgb(solid(64, 18, 200, 10, 10))),
            std::string(11, '0') + std::string(9, '1') + std::string(12, '0'));
  // 96 x 45 -> round(45 / 3) = 15 rows; 33 x 33 at size 32 -> resized to 32 x 32, no padding.
  EXPECT_EQ(rows(with("longest").resize_crop_rgb(solid(96, 45, 200, 10, 10))),
            std::string(8, '0') + std::string(15, '1') + std::string(9, '0'));
  EXPECT_EQ(rows(with("longest").resize_crop_rgb(solid(33, 33, 200, 10, 10))), std::string(32, '1'));
  // Python's round is half to even: 40 x 5 at size 20 -> 20 x round(2.5) = 2 rows, not 3.
  EXPECT_EQ(rows(with("longest", "bicubic", 20).resize_crop_rgb(solid(40, 5, 200, 10, 10))),
            std::string(9, '0') + std::string(2, '1') + std::string(9, '0'));
}

TEST(PreprocessModes, SquashKeepsEverythingAndShortestCrops) {
  const clip::Image tall = solid(20, 80, 10, 200, 10);
  const clip::Image squashed = with("squash").resize_crop_rgb(tall), cropped = with("shortest").resize_crop_rgb(tall);
  EXPECT_EQ(squashed.width(), 32);
  EXPECT_EQ(squashed.height(), 32);
  EXPECT_EQ(rows(squashed), std::string(32, '1'));
  EXPECT_EQ(cropped.width(), 32);
}

TEST(PreprocessModes, MeanStdAndUnknownSettings) {
  clip::PreprocessConfig c;
  c.size = 8;
  c.mean = {0.5f, 0.5f, 0.5f};
  c.std = {0.5f, 0.5f, 0.5f};
  const clip::Tensor t = clip::Preprocess(c)(solid(8, 8, 255, 0, 51));
  EXPECT_FLOAT_EQ(t.at<float>({0, 0, 0}), 1.0f);
  EXPECT_FLOAT_EQ(t.at<float>({1, 0, 0}), -1.0f);
  EXPECT_FLOAT_EQ(t.at<float>({2, 0, 0}), (51.0f / 255.0f - 0.5f) / 0.5f);
  EXPECT_EQ(clip::Preprocess(c).size(), 8);
  c.resize_mode = "random";
  EXPECT_THROW(clip::Preprocess{c}, clip::Error);
  c.resize_mode = "shortest";
  c.interpolation = "lanczos";
  EXPECT_THROW(clip::Preprocess{c}, clip::Error);
  c.interpolation = "bilinear";
  c.std = {0.5f, 0.0f, 0.5f};
  EXPECT_THROW(clip::Preprocess{c}, clip::Error);
}

// Bilinear is Pillow's triangle filter: on a two-colour edge it blends over fewer pixels
// than bicubic and never overshoots.
TEST(PreprocessModes, BilinearIsNotBicubic) {
  clip::Image edge(clip::ImageMode::RGB, 64, 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 32; x < 64; ++x)
      for (int c = 0; c < 3; ++c) edge.pixels()[(y * 64 + x) * 3 + c] = 200;
  const clip::Image bilinear = with("squash", "bilinear", 20).resize_crop_rgb(edge),
                    bicubic = with("squash", "bicubic", 20).resize_crop_rgb(edge);
  int differ = 0;
  for (std::size_t i = 0; i < bilinear.pixels().size(); ++i) {
    differ += bilinear.pixels()[i] != bicubic.pixels()[i];
    EXPECT_LE(bilinear.pixels()[i], 200);
  }
  EXPECT_GT(differ, 0);
}

}  // namespace
