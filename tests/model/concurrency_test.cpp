// One loaded model, one tokenizer and one preprocess shared by several threads at once
// give the same results as sequential use. Also run under ThreadSanitizer (see
// scripts/test_sanitizers.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "clip/model.h"
#include "clip/npy.h"
#include "clip/tokenizer.h"
#include "test_data.h"

namespace {

bool same(const clip::Tensor& a, const clip::Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    if (std::fabs(a.data<float>()[i] - b.data<float>()[i]) > 1e-5f * (1 + std::fabs(b.data<float>()[i]))) return false;
  return true;
}

TEST(Concurrency, SharedModelFromFourThreads) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  for (const char* name : {"vit-b32-tiny", "rn50-tiny"}) {
    for (bool jit : {false, true}) {
      const clip::Model model =
          clip::Model::from_checkpoint(clip::Checkpoint::load(dir / name / "model.pt"), "cpu", jit);
      const clip::Tensor images = clip::load_npy(dir / name / "images.f32.npy");
      const clip::Tensor tokens = clip::load_npy(dir / name / "tokens.i32.npy");
      const clip::Tensor image_ref = model.encode_image(images), text_ref = model.encode_text(tokens);
      const auto logits_ref = model(images, tokens).first;
      std::atomic<int> mismatches{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
          for (int i = 0; i < 6; ++i) {
            switch ((t + i) % 3) {
              case 0: mismatches += !same(model.encode_image(images), image_ref); break;
              case 1: mismatches += !same(model.encode_text(tokens), text_ref); break;
              default: mismatches += !same(model(images, tokens).first, logits_ref); break;
            }
          }
        });
      for (auto& th : threads) th.join();
      EXPECT_EQ(mismatches.load(), 0) << name << (jit ? " jit" : "");
    }
  }
}

TEST(Concurrency, TokenizerAndPreprocessFromFourThreads) {
  CLIP_REQUIRE_SHARED_FILE(png, "fixtures/preprocess/images/clip_png.png");
  const clip::Preprocess preprocess(64);
  const clip::Image image = clip::Image::open(png);
  const clip::Tensor ref = preprocess(image);
  const std::vector<std::string> texts{"a diagram", "Ünïcödé façade &amp; more", "日本語のテキスト"};
  const clip::Tensor ref_tokens = clip::tokenize(texts);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        mismatches += !same(preprocess(image), ref);
        mismatches += clip::tokenize(texts).to_vector<std::int32_t>() != ref_tokens.to_vector<std::int32_t>();
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
