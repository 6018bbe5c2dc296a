// The demo-shapes model compiled into the library: opens without files or network, has
// the official layout, and sees what it was trained on (the full 200-image accuracy check
// is tests/model/demo_shapes_accuracy.py).
#include <gtest/gtest.h>

#include <algorithm>

#include "clip/clip.h"

TEST(BuiltinModel, ListedAndOpenedWithoutFiles) {
  const auto names = clip::builtin_models();
  ASSERT_NE(std::find(names.begin(), names.end(), "demo-shapes"), names.end());

  const clip::Checkpoint c = clip::Checkpoint::load_builtin("demo-shapes");
  EXPECT_EQ(c.format(), "torch.save");
  EXPECT_EQ(c.path(), "<built-in demo-shapes>");
  const clip::ModelConfig config = c.config();
  EXPECT_TRUE(config.vision_is_vit);
  EXPECT_EQ(config.vocab_size, 49408);  // the official tokenizer's vocabulary
  EXPECT_EQ(config.context_length, 77);
  EXPECT_EQ(c.at("visual.conv1.weight").dtype(), clip::DType::Float16);  // fp16 as in the official files
  EXPECT_EQ(c.at("visual.ln_pre.weight").dtype(), clip::DType::Float32);

  EXPECT_THROW(clip::Checkpoint::load_builtin("nope"), clip::Error);
  try {
    clip::load("nope");
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("demo-shapes (built in)"), std::string::npos) << e.what();
  }
}

TEST(BuiltinModel, LoadEncodesAndScores) {
  // An unreachable cache folder: nothing may be downloaded or read from disk.
  auto [model, preprocess] = clip::load("demo-shapes", "cpu", false, "/nonexistent/clip-cache");
  // A solid red square filling the middle of a grey image.
  const int n = model.input_resolution();
  std::vector<std::uint8_t> pixels(n * n * 3, 128);
  for (int y = n / 4; y < 3 * n / 4; ++y)
    for (int x = n / 4; x < 3 * n / 4; ++x) {
      std::uint8_t* p = &pixels[(y * n + x) * 3];
      p[0] = 220, p[1] = 25, p[2] = 25;
    }
  const clip::Image image = clip::Image::from_pixels(clip::ImageMode::RGB, n, n, pixels);
  const clip::Tensor tokens =
      clip::tokenize({"a photo of a red square.", "a photo of a blue circle.", "a photo of a green star."});
  const auto [logits, unused] = model(clip::stack({preprocess(image)}), tokens);
  const std::vector<float> probs = clip::softmax(logits).to_vector<float>();
  EXPECT_GT(probs[0], 0.9) << probs[0] << " " << probs[1] << " " << probs[2];
}
