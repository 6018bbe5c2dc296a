// encode_image, encode_text and the logits of every fixture model against the reference's
// goldens, within the fp32 tolerances of ../shared/fixtures/models/README.md, for jit =
// false and jit = true, on the CPU and the reference backend; the end-to-end demo through our own preprocess and
// tokenizer; and consistency across thread counts and batch sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "clip/model.h"
#include "clip/npy.h"
#include "clip/tokenizer.h"
#include "runtime/backend.h"
#include "test_data.h"

namespace {

const char* kModels[] = {"vit-b32-tiny", "vit-p16-tiny", "vit-p14-tiny", "rn50-tiny", "rn-wide-tiny"};

// |a - b| <= atol + rtol * |b| everywhere; atol may be relative to max |golden|.
void expect_close(const clip::Tensor& got, const clip::Tensor& golden, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(got.shape(), golden.shape()) << what;
  double worst = 0;
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < golden.numel(); ++i) {
    const double a = got.data<float>()[i], b = golden.data<float>()[i];
    const double excess = std::fabs(a - b) - (atol + rtol * std::fabs(b));
    worst = std::max(worst, std::fabs(a - b));
    bad += excess > 0;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " values out of tolerance, max |diff| " << worst;
}

double max_abs(const clip::Tensor& t) {
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, static_cast<double>(std::fabs(t.data<float>()[i])));
  return m;
}

void check_model(const clip::Model& model, const std::filesystem::path& dir, const std::string& what) {
  const clip::Tensor images = clip::load_npy(dir / "images.f32.npy");
  const clip::Tensor tokens = clip::load_npy(dir / "tokens.i32.npy");
  const clip::Tensor golden_img = clip::load_npy(dir / "image_features.f32.npy");
  const clip::Tensor golden_txt = clip::load_npy(dir / "text_features.f32.npy");
  expect_close(model.encode_image(images), golden_img, 1e-4, 1e-4 * max_abs(golden_img), what + " image_features");
  expect_close(model.encode_text(tokens), golden_txt, 1e-4, 1e-4 * max_abs(golden_txt), what + " text_features");
  const auto [per_image, per_text] = model(images, tokens);
  expect_close(per_image, clip::load_npy(dir / "logits_per_image.f32.npy"), 1e-4, 1e-3, what + " logits_per_image");
  if (std::filesystem::exists(dir / "logits_per_text.f32.npy"))  // open_clip's goldens have no transpose
    expect_close(per_text, clip::load_npy(dir / "logits_per_text.f32.npy"), 1e-4, 1e-3, what + " logits_per_text");
}

TEST(ModelFixtures, AllModelsBothFilesBothModes) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  for (const char* name : kModels) {
    for (const char* file : {"model.pt", "state_dict.pt"}) {
      if (!std::filesystem::exists(dir / name / file)) continue;
      const clip::Checkpoint ckpt = clip::Checkpoint::load(dir / name / file);
      for (bool jit : {false, true}) {
        const clip::Model model = clip::Model::from_checkpoint(ckpt, "cpu", jit);
        check_model(model, dir / name, std::string(name) + "/" + file + (jit ? " jit" : ""));
      }
    }
  }
}

// The same goldens on the reference backend (plain loops, double accumulation): what the
// conformance suite holds the fast backends to is itself right end to end.
TEST(ModelFixtures, AllModelsOnTheReferenceBackend) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  for (const char* name : kModels)
    for (bool jit : {false, true}) {
      const clip::Model model =
          clip::Model::from_checkpoint(clip::Checkpoint::load(dir / name / "model.pt"), "reference", jit);
      EXPECT_EQ(model.device(), "reference");
      check_model(model, dir / name, std::string(name) + " on the reference backend" + (jit ? " jit" : ""));
    }
}

TEST(ModelFixtures, EndToEndDemo) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  CLIP_REQUIRE_SHARED_FILE(png, "assets/CLIP.png");
  const auto [model, preprocess] = clip::load((dir / "model.pt").string());
  const clip::Tensor image = clip::stack({preprocess(clip::Image::open(png))});
  expect_close(image, clip::load_npy(dir / "e2e_image.f32.npy"), 0, 0, "e2e image (our preprocess)");
  const clip::Tensor text = clip::tokenize(std::vector<std::string>{"a diagram", "a dog", "a cat"});
  const clip::Tensor golden_tokens = clip::load_npy(dir / "tokens.i32.npy");
  EXPECT_EQ(text.to_vector<std::int32_t>(), golden_tokens.to_vector<std::int32_t>());
  const auto [logits_per_image, logits_per_text] = model(image, text);
  expect_close(logits_per_image, clip::load_npy(dir / "e2e_logits_per_image.f32.npy"), 1e-4, 1e-3, "e2e logits");
  expect_close(clip::softmax(logits_per_image, -1), clip::load_npy(dir / "e2e_probs.f32.npy"), 0, 1e-4, "e2e probs");
}

// open_clip's models (../shared/fixtures/open_clip): head widths other than 64, a
// non-integer MLP ratio, exact GELU, QuickGELU, a ModifiedResNet; both weight files with
// the open_clip_config.json beside them, both modes, every backend; and CLIP.png through
// the transform their preprocess_cfg names (squash, mean/std 0.5), against open_clip's.
const char* kOpenClipModels[] = {"oc-vit-gelu", "oc-vit-bigg", "oc-vit-quickgelu", "oc-rn-quickgelu"};

TEST(OpenClipFixtures, EveryModelFileModeAndBackend) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/open_clip");
  for (const char* name : kOpenClipModels)
    for (const char* file : {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"}) {
      const clip::Checkpoint ckpt = clip::Checkpoint::load(dir / name / file);
      EXPECT_EQ(ckpt.config().source, (dir / name / "open_clip_config.json").string());
      for (const std::string& device : clip::runtime::backend_names())
        for (bool jit : {false, true})
          check_model(clip::Model::from_checkpoint(ckpt, device, jit), dir / name,
                      std::string(name) + "/" + file + " on " + device + (jit ? " jit" : ""));
    }
}

TEST(OpenClipFixtures, TheirOwnHyperParameters) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/open_clip");
  for (const char* name : kOpenClipModels) {
    const clip::ModelConfig c = clip::Checkpoint::load(dir / name / "open_clip_model.safetensors").config();
    const nlohmann::json golden = nlohmann::json::parse(std::ifstream(dir / name / "config.json"));
    const nlohmann::json& derived = golden.at("derived");
    EXPECT_EQ(c.vision_heads, derived.at("vision_heads").get<int>()) << name;
    EXPECT_EQ(c.transformer_heads, derived.at("text_heads").get<int>()) << name;
    if (c.vision_is_vit) EXPECT_EQ(c.vision_mlp_width, derived.at("vision_mlp_width").get<int>()) << name;
  }
}

TEST(OpenClipFixtures, EndToEndThroughTheirTransform) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/open_clip");
  CLIP_REQUIRE_SHARED_FILE(png, "assets/CLIP.png");
  for (const char* name : kOpenClipModels) {
    const auto [model, preprocess] = clip::load((dir / name / "open_clip_model.safetensors").string());
    const clip::Tensor image = clip::stack({preprocess(clip::Image::open(png))});
    // Pillow's resampling reproduced: the same bytes, so the same floats.
    expect_close(image, clip::load_npy(dir / name / "e2e_image.f32.npy"), 0, 1e-6, std::string(name) + " e2e image");
    const clip::Tensor text =
        clip::tokenize(std::vector<std::string>{"a diagram", "a dog", "a cat"}, model.context_length());
    EXPECT_EQ(text.to_vector<std::int32_t>(), clip::load_npy(dir / name / "tokens.i32.npy").to_vector<std::int32_t>());
    const auto [logits_per_image, logits_per_text] = model(image, text);
    expect_close(logits_per_image, clip::load_npy(dir / name / "e2e_logits_per_image.f32.npy"), 1e-4, 1e-3,
                 std::string(name) + " e2e logits");
    expect_close(clip::softmax(logits_per_image, -1), clip::load_npy(dir / name / "e2e_probs.f32.npy"), 0, 1e-4,
                 std::string(name) + " e2e probs");
  }
}

// The same weights without their description are never silently wrong: these shapes fit
// no model OpenAI's rules build (text width 8: no heads; an MLP 393 wide), so they are
// refused, saying what is missing; a file OpenAI's rules can build loads with
// config().source == "assumed" (clip::load warns, see the CLI test).
TEST(OpenClipFixtures, WithoutTheirConfigurationRefusedOrAssumed) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/open_clip");
  CLIP_REQUIRE_SHARED_FILE(openai, "fixtures/models/vit-b32-tiny/state_dict.pt");
  const std::filesystem::path tmp = std::filesystem::temp_directory_path() / "clip_open_clip_bare";
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp);
  for (const char* name : kOpenClipModels)
    for (const char* file : {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"}) {
      std::filesystem::copy_file(dir / name / file, tmp / file, std::filesystem::copy_options::overwrite_existing);
      try {
        clip::Checkpoint::load(tmp / file).config();
        ADD_FAILURE() << name << "/" << file << " loaded without its configuration";
      } catch (const clip::Error& e) {
        EXPECT_NE(std::string(e.what()).find("open_clip_config.json"), std::string::npos) << e.what();
      }
      // Named explicitly, the configuration applies wherever it is.
      EXPECT_EQ(clip::Checkpoint::load(tmp / file, dir / name / "open_clip_config.json").config(),
                clip::Checkpoint::load(dir / name / file).config());
    }
  EXPECT_EQ(clip::Checkpoint::load(openai).config().source, "assumed");
  EXPECT_EQ(clip::Checkpoint::load(openai.parent_path() / "model.pt").config().source, "");  // TorchScript: OpenAI's
  std::filesystem::remove_all(tmp);
}

// Fields this library does not implement are refused by name, never ignored.
TEST(OpenClipFixtures, UnimplementedFieldsAreRefused) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/open_clip/oc-vit-gelu");
  std::map<std::string, clip::Tensor::Shape> shapes;
  const clip::Checkpoint ckpt = clip::Checkpoint::load(dir / "open_clip_model.safetensors");
  for (const std::string& key : ckpt.keys()) shapes[key] = ckpt.at(key).shape();
  const nlohmann::json base = nlohmann::json::parse(std::ifstream(dir / "open_clip_config.json"));
  EXPECT_NO_THROW(clip::apply_open_clip_config(shapes, base.dump(), "cfg"));
  const std::vector<std::pair<std::string, nlohmann::json>> changes = {
      {"/model_cfg/vision_cfg/ls_init_value", 0.1},
      {"/model_cfg/vision_cfg/attentional_pool", true},
      {"/model_cfg/vision_cfg/no_ln_pre", true},
      {"/model_cfg/vision_cfg/pool_type", "avg"},
      {"/model_cfg/text_cfg/pool_type", "eos"},
      {"/model_cfg/text_cfg/hf_tokenizer_name", "xlm"},
      {"/model_cfg/vision_cfg/timm_model_name", "convnext"},
      {"/model_cfg/vision_cfg/some_new_field", 1},
      {"/model_cfg/vision_cfg/head_width", 64},
      {"/model_cfg/vision_cfg/mlp_ratio", 4.5},
      {"/model_cfg/text_cfg/heads", 3},
      {"/model_cfg/embed_dim", 64},
      {"/preprocess_cfg/fill_color", 255},
      {"/preprocess_cfg/interpolation", "random"},
      {"/model_cfg/init_logit_bias", -10.0}};
  for (const auto& [pointer, value] : changes) {
    nlohmann::json j = base;
    j[nlohmann::json::json_pointer(pointer)] = value;
    try {
      const clip::ModelConfig c = clip::apply_open_clip_config(shapes, j.dump(), "cfg");
      // head_width 64 gives one head where open_clip's file says three: different, valid
      // numbers are applied, not refused.
      if (pointer == "/model_cfg/vision_cfg/head_width") {
        EXPECT_EQ(c.vision_heads, 1);
        continue;
      }
      ADD_FAILURE() << pointer << " = " << value.dump() << " accepted";
    } catch (const clip::Error& e) {
      const std::string leaf = pointer.substr(pointer.rfind('/') + 1);
      EXPECT_NE(std::string(e.what()).find(leaf), std::string::npos) << e.what();
    }
  }
}

TEST(ModelConsistency, ThreadsAndBatchesAgree) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  for (const char* name : {"vit-b32-tiny", "rn50-tiny", "vit-p16-tiny"}) {  // vit-p16: rows of three lengths
    clip::Model model = clip::Model::from_checkpoint(clip::Checkpoint::load(dir / name / "model.pt"));
    const clip::Tensor images = clip::load_npy(dir / name / "images.f32.npy");
    const clip::Tensor tokens = clip::load_npy(dir / name / "tokens.i32.npy");
    model.set_num_threads(1);
    const clip::Tensor img1 = model.encode_image(images), txt1 = model.encode_text(tokens);
    model.set_num_threads(2);
    expect_close(model.encode_image(images), img1, 1e-5, 1e-5 * max_abs(img1), std::string(name) + " 2 threads image");
    expect_close(model.encode_text(tokens), txt1, 1e-5, 1e-5 * max_abs(txt1), std::string(name) + " 2 threads text");
    // Each row of the batch equals that row computed alone.
    for (std::int64_t i = 0; i < images.size(0); ++i) {
      const std::int64_t per = images.numel() / images.size(0);
      clip::Tensor one({1, images.size(1), images.size(2), images.size(3)}, clip::DType::Float32);
      std::copy_n(images.data<float>() + i * per, per, one.data<float>());
      const clip::Tensor alone = model.encode_image(one);
      for (std::int64_t k = 0; k < alone.numel(); ++k)
        EXPECT_NEAR(alone.data<float>()[k], img1.data<float>()[i * alone.numel() + k], 1e-4 * max_abs(img1)) << name;
    }
    // Text rows of different lengths, packed together, equal each row alone.
    for (std::int64_t i = 0; i < tokens.size(0); ++i) {
      const std::int64_t per = tokens.size(1);
      clip::Tensor one({1, per}, tokens.dtype());
      std::copy_n(tokens.raw_data() + i * tokens.nbytes() / tokens.size(0), tokens.nbytes() / tokens.size(0),
                  one.raw_data());
      const clip::Tensor alone = model.encode_text(one);
      for (std::int64_t k = 0; k < alone.numel(); ++k)
        EXPECT_NEAR(alone.data<float>()[k], txt1.data<float>()[i * alone.numel() + k], 1e-4 * max_abs(txt1)) << name;
    }
  }
}

TEST(ModelInputs, BadShapesAndIdsAreClearErrors) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/models/vit-p16-tiny/model.pt");
  clip::Model model = clip::Model::from_checkpoint(clip::Checkpoint::load(path));
  EXPECT_THROW(model.encode_image(clip::Tensor({1, 3, 32, 32}, clip::DType::Float32)), clip::Error);
  EXPECT_THROW(model.encode_image(clip::Tensor({0, 3, 48, 48}, clip::DType::Float32)), clip::Error);
  EXPECT_THROW(model.encode_image(clip::Tensor({3, 48, 48}, clip::DType::Float32)), clip::Error);
  EXPECT_THROW(model.encode_text(clip::Tensor({1, 76}, clip::DType::Int32)), clip::Error);
  clip::Tensor bad_ids({1, 77}, clip::DType::Int64);
  bad_ids.data<std::int64_t>()[3] = 1000;  // vocab is 1000
  EXPECT_THROW(model.encode_text(bad_ids), clip::Error);
  EXPECT_THROW(clip::Model::from_checkpoint(clip::Checkpoint::load(path), "cuda"), clip::Error);
  EXPECT_THROW(model.set_num_threads(0), clip::Error);
  EXPECT_THROW(clip::load("ViT-Z/99"), clip::Error);
}

TEST(ModelParameters, ReadableAndReplaceableWithoutJit) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/models/vit-p16-tiny/model.pt");
  const clip::Checkpoint ckpt = clip::Checkpoint::load(path);
  clip::Model model = clip::Model::from_checkpoint(ckpt);
  const auto names = model.parameter_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "visual.proj"), names.end());
  const clip::Tensor tokens = clip::load_npy(path.parent_path() / "tokens.i32.npy");
  const clip::Tensor before = model.encode_text(tokens);
  clip::Tensor proj = model.parameter("text_projection").clone();
  for (std::int64_t i = 0; i < proj.numel(); ++i) proj.data<float>()[i] *= 2;
  model.set_parameter("text_projection", proj);
  const clip::Tensor after = model.encode_text(tokens);
  EXPECT_NEAR(after.data<float>()[0], 2 * before.data<float>()[0], 1e-4);
  EXPECT_THROW(model.set_parameter("text_projection", clip::Tensor({2, 2}, clip::DType::Float32)), clip::Error);
  const clip::Model jit = clip::Model::from_checkpoint(ckpt, "cpu", true);
  EXPECT_THROW(jit.parameter("visual.proj"), clip::Error);
}

// Row-wise cosine similarity of two [n, d] float tensors; the smallest over the rows.
double min_row_cosine(const clip::Tensor& a, const clip::Tensor& b) {
  const std::int64_t n = a.size(0), d = a.size(1);
  double worst = 1;
  for (std::int64_t i = 0; i < n; ++i) {
    double ab = 0, aa = 0, bb = 0;
    for (std::int64_t k = 0; k < d; ++k) {
      const double x = a.data<float>()[i * d + k], y = b.data<float>()[i * d + k];
      ab += x * y, aa += x * x, bb += y * y;
    }
    worst = std::min(worst, ab / std::sqrt(aa * bb));
  }
  return worst;
}

}  // namespace

TEST(ModelPrecision, Bf16FeaturesWithinCosine0999OfFp32) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  try {  // A CPU without bfloat16 matmuls in oneDNN (no AVX-512) must say so clearly.
    const clip::Model probe = clip::Model::from_checkpoint(clip::Checkpoint::load(dir / "vit-b32-tiny" / "model.pt"),
                                                           "cpu", false, clip::Precision::BF16);
    probe.encode_text(clip::load_npy(dir / "vit-b32-tiny" / "tokens.i32.npy"));
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("precision bf16 is not available on this CPU"), std::string::npos) << e.what();
    std::cout << "bf16 is not available on this CPU: checked its error message instead of its features\n";
    return;
  }
  for (const char* name : kModels) {
    const clip::Checkpoint checkpoint = clip::Checkpoint::load(dir / name / "model.pt");
    for (const bool jit : {false, true}) {
      const clip::Model fp32 = clip::Model::from_checkpoint(checkpoint, "cpu", jit);
      const clip::Model bf16 = clip::Model::from_checkpoint(checkpoint, "cpu", jit, clip::Precision::BF16);
      EXPECT_EQ(bf16.precision(), clip::Precision::BF16);
      const clip::Tensor images = clip::load_npy(dir / name / "images.f32.npy");
      const clip::Tensor tokens = clip::load_npy(dir / name / "tokens.i32.npy");
      const clip::Tensor img32 = fp32.encode_image(images), img16 = bf16.encode_image(images);
      const clip::Tensor txt32 = fp32.encode_text(tokens), txt16 = bf16.encode_text(tokens);
      EXPECT_GE(min_row_cosine(img16, img32), 0.999) << name << " jit=" << jit << " image";
      EXPECT_GE(min_row_cosine(txt16, txt32), 0.999) << name << " jit=" << jit << " text";
      // bf16 really changes the arithmetic: the features are not bit-identical.
      EXPECT_NE(img16.to_vector<float>(), img32.to_vector<float>()) << name;
    }
  }
  EXPECT_EQ(clip::parse_precision("bf16"), clip::Precision::BF16);
  EXPECT_THROW(clip::parse_precision("fp8"), clip::Error);
}
