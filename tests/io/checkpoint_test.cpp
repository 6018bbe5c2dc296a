// Checkpoint readers against ../shared/fixtures/models: the TorchScript archives and
// torch.save files, the same weights re-written as safetensors (OpenAI/open_clip names and
// Hugging Face names), the configuration inference for the nine official models, and
// damaged files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "clip/checkpoint.h"
#include "io/pickle.h"
#include "test_data.h"

namespace {

using nlohmann::json;

const char* kModels[] = {"vit-b32-tiny", "vit-p16-tiny", "vit-p14-tiny", "rn50-tiny", "rn-wide-tiny"};

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

clip::DType dtype_from(const std::string& name) {
  for (clip::DType d : {clip::DType::Float32, clip::DType::Float16, clip::DType::Int64, clip::DType::BFloat16})
    if (name == clip::dtype_name(d)) return d;
  throw std::runtime_error("dtype " + name);
}

bool same_bytes(const clip::Tensor& a, const clip::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

void expect_config(const clip::ModelConfig& c, const json& hp, const std::string& id) {
  EXPECT_EQ(c.embed_dim, hp["embed_dim"].get<int>()) << id;
  EXPECT_EQ(c.image_resolution, hp["image_resolution"].get<int>()) << id;
  if (hp["vision_layers"].is_array())
    EXPECT_EQ(c.vision_layers, hp["vision_layers"].get<std::vector<int>>()) << id;
  else
    EXPECT_EQ(c.vision_layers, std::vector<int>{hp["vision_layers"].get<int>()}) << id;
  EXPECT_EQ(c.vision_width, hp["vision_width"].get<int>()) << id;
  EXPECT_EQ(c.vision_patch_size, hp["vision_patch_size"].is_null() ? 0 : hp["vision_patch_size"].get<int>()) << id;
  EXPECT_EQ(c.context_length, hp["context_length"].get<int>()) << id;
  EXPECT_EQ(c.vocab_size, hp["vocab_size"].get<int>()) << id;
  EXPECT_EQ(c.transformer_width, hp["transformer_width"].get<int>()) << id;
  EXPECT_EQ(c.transformer_heads, hp["transformer_heads"].get<int>()) << id;
  EXPECT_EQ(c.transformer_layers, hp["transformer_layers"].get<int>()) << id;
}

TEST(CheckpointFixtures, TorchScriptAndStateDictFiles) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    const json cfg = read_json(dir / name / "config.json");
    const clip::Checkpoint ckpt = clip::Checkpoint::load(dir / name / "model.pt");
    EXPECT_EQ(ckpt.format(), "torchscript");
    const clip::ModelConfig c = ckpt.config();
    expect_config(c, cfg["hyperparameters"], name);
    EXPECT_EQ(c.vision_heads, cfg["vision_heads"].get<int>());
    EXPECT_EQ(c.activation, clip::Activation::QuickGELU);
    EXPECT_EQ(ckpt.parameter_count(), cfg["parameter_count"].get<std::int64_t>());
    // Every key, in archive order, with its shape and dtype.
    const json& keys = cfg["model_pt_state_dict"];
    ASSERT_EQ(ckpt.keys().size(), keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      ASSERT_EQ(ckpt.keys()[i], keys[i]["key"].get<std::string>());
      const clip::Tensor& t = ckpt.at(ckpt.keys()[i]);
      EXPECT_EQ(t.shape(), keys[i]["shape"].get<clip::Tensor::Shape>()) << ckpt.keys()[i];
      EXPECT_EQ(t.dtype(), dtype_from(keys[i]["dtype"])) << ckpt.keys()[i];
    }
    if (std::filesystem::exists(dir / name / "state_dict.pt")) {
      const clip::Checkpoint sd = clip::Checkpoint::load(dir / name / "state_dict.pt");
      EXPECT_EQ(sd.format(), "torch.save");
      EXPECT_EQ(sd.config(), c);
      for (const std::string& key : sd.keys()) EXPECT_TRUE(same_bytes(sd.at(key), ckpt.at(key))) << key;
      EXPECT_EQ(sd.keys().size() + 3, ckpt.keys().size());  // no input_resolution, context_length, vocab_size
    }
  }
}

TEST(CheckpointFixtures, OfficialShapesGiveThePublishedConfigs) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/models/official_shapes.json");
  const json models = read_json(path)["models"];
  ASSERT_EQ(models.size(), 9u);
  for (const auto& [name, m] : models.items()) {
    std::map<std::string, clip::Tensor::Shape> shapes;
    std::int64_t params = 0;
    for (const auto& k : m["state_dict"]) {
      shapes[k["key"]] = k["shape"].get<clip::Tensor::Shape>();
      const std::string key = k["key"];
      if (key.ends_with("running_mean") || key.ends_with("running_var") || key.ends_with("num_batches_tracked") ||
          key == "input_resolution" || key == "context_length" || key == "vocab_size")
        continue;
      std::int64_t n = 1;
      for (std::int64_t d : shapes[key]) n *= d;
      params += n;
    }
    const clip::ModelConfig c = clip::infer_config(shapes);
    expect_config(c, m["hyperparameters"], name);
    EXPECT_EQ(c.vision_heads, m["vision_heads"].get<int>()) << name;
    EXPECT_EQ(params, m["parameter_count"].get<std::int64_t>()) << name;
  }
}

// The OpenAI names -> Hugging Face names, as transformers' conversion script writes them.
std::vector<std::pair<std::string, clip::Tensor>> to_hugging_face(const clip::Checkpoint& ckpt,
                                                                  const clip::ModelConfig& c) {
  std::vector<std::pair<std::string, clip::Tensor>> out;
  const auto t = [&](const std::string& k) { return ckpt.at(k); };
  const auto transpose = [](const clip::Tensor& m) {
    const std::int64_t r = m.size(0), cols = m.size(1), e = static_cast<std::int64_t>(clip::dtype_size(m.dtype()));
    clip::Tensor o({cols, r}, m.dtype());
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < cols; ++j)
        std::memcpy(o.raw_data() + (j * r + i) * e, m.raw_data() + (i * cols + j) * e, e);
    return o;
  };
  const auto rows = [](const clip::Tensor& m, std::int64_t begin, std::int64_t n) {
    clip::Tensor::Shape s = m.shape();
    s[0] = n;
    clip::Tensor o(s, m.dtype());
    std::memcpy(o.raw_data(), m.raw_data() + begin * (m.nbytes() / m.size(0)), o.nbytes());
    return o;
  };
  const auto tower = [&](const std::string& ours, const std::string& hf, int layers, std::int64_t width) {
    for (int i = 0; i < layers; ++i) {
      const std::string o = ours + "transformer.resblocks." + std::to_string(i) + ".",
                        h = hf + "encoder.layers." + std::to_string(i) + ".";
      const char* qkv[] = {"q", "k", "v"};
      for (int p = 0; p < 3; ++p) {
        out.emplace_back(h + "self_attn." + qkv[p] + "_proj.weight",
                         rows(t(o + "attn.in_proj_weight"), p * width, width));
        out.emplace_back(h + "self_attn." + qkv[p] + "_proj.bias", rows(t(o + "attn.in_proj_bias"), p * width, width));
      }
      for (const char* s : {"weight", "bias"}) {
        out.emplace_back(h + "self_attn.out_proj." + s, t(o + "attn.out_proj." + s));
        out.emplace_back(h + "layer_norm1." + s, t(o + "ln_1." + s));
        out.emplace_back(h + "mlp.fc1." + s, t(o + "mlp.c_fc." + s));
        out.emplace_back(h + "mlp.fc2." + s, t(o + "mlp.c_proj." + s));
        out.emplace_back(h + "layer_norm2." + s, t(o + "ln_2." + s));
      }
    }
  };
  out.emplace_back("logit_scale", t("logit_scale"));
  out.emplace_back("text_projection.weight", transpose(t("text_projection")));
  out.emplace_back("visual_projection.weight", transpose(t("visual.proj")));
  out.emplace_back("text_model.embeddings.token_embedding.weight", t("token_embedding.weight"));
  out.emplace_back("text_model.embeddings.position_embedding.weight", t("positional_embedding"));
  out.emplace_back("text_model.embeddings.position_ids", clip::Tensor({1, 77}, clip::DType::Int64));
  out.emplace_back("vision_model.embeddings.class_embedding", t("visual.class_embedding"));
  out.emplace_back("vision_model.embeddings.patch_embedding.weight", t("visual.conv1.weight"));
  out.emplace_back("vision_model.embeddings.position_embedding.weight", t("visual.positional_embedding"));
  for (const char* s : {"weight", "bias"}) {
    out.emplace_back(std::string("vision_model.pre_layrnorm.") + s, t(std::string("visual.ln_pre.") + s));
    out.emplace_back(std::string("vision_model.post_layernorm.") + s, t(std::string("visual.ln_post.") + s));
    out.emplace_back(std::string("text_model.final_layer_norm.") + s, t(std::string("ln_final.") + s));
  }
  tower("", "text_model.", c.transformer_layers, c.transformer_width);
  tower("visual.", "vision_model.", c.vision_layers[0], c.vision_width);
  return out;
}

TEST(CheckpointFixtures, SafetensorsWithBothNamings) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  const auto tmp = std::filesystem::temp_directory_path() / "clip_safetensors_test";
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    const clip::Checkpoint ckpt = clip::Checkpoint::load(dir / name / "model.pt");
    const clip::ModelConfig c = ckpt.config();

    // open_clip naming: the OpenAI keys as they are.
    std::vector<std::pair<std::string, clip::Tensor>> tensors;
    for (const std::string& key : ckpt.keys())
      if (key != "input_resolution" && key != "context_length" && key != "vocab_size")
        tensors.emplace_back(key, ckpt.at(key));
    std::filesystem::create_directories(tmp / "open_clip");
    clip::save_safetensors(tmp / "open_clip" / "open_clip_model.safetensors", tensors, {{"format", "pt"}});
    const clip::Checkpoint oc = clip::Checkpoint::load(tmp / "open_clip" / "open_clip_model.safetensors");
    EXPECT_EQ(oc.format(), "safetensors");
    EXPECT_EQ(oc.config(), c);
    ASSERT_EQ(oc.keys().size(), tensors.size());
    for (const auto& [key, t] : tensors) EXPECT_TRUE(same_bytes(oc.at(key), t)) << key;

    if (!c.vision_is_vit) continue;  // the Hugging Face CLIPModel has no ResNet tower
    std::filesystem::create_directories(tmp / "hf");
    clip::save_safetensors(tmp / "hf" / "model.safetensors", to_hugging_face(ckpt, c));
    std::ofstream(tmp / "hf" / "config.json")
        << R"({"text_config": {"hidden_act": "quick_gelu"}, "vision_config": {"hidden_act": "quick_gelu"}})";
    const clip::Checkpoint hf = clip::Checkpoint::load(tmp / "hf" / "model.safetensors");
    EXPECT_EQ(hf.format(), "safetensors (Hugging Face)");
    EXPECT_EQ(hf.config(), c);
    ASSERT_EQ(hf.keys().size(), tensors.size());
    for (const auto& [key, t] : tensors) EXPECT_TRUE(same_bytes(hf.at(key), t)) << key;
    std::ofstream(tmp / "hf" / "config.json") << R"({"text_config": {"hidden_act": "gelu"}})";
    EXPECT_EQ(clip::Checkpoint::load(tmp / "hf" / "model.safetensors").config().activation, clip::Activation::GELU);
  }
  std::filesystem::remove_all(tmp);
}

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::filesystem::path& p, const std::vector<std::uint8_t>& d) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
}

TEST(CheckpointRobustness, TruncatedAndFlippedFilesAreErrors) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models");
  const auto tmp = std::filesystem::temp_directory_path() / "clip_damaged.pt";
  std::mt19937 rng(3);
  for (const char* name : {"vit-p16-tiny", "rn50-tiny"}) {
    const auto good = read_bytes(dir / name / "model.pt");
    for (int i = 0; i < 40; ++i) {  // truncations
      const std::size_t cut = good.size() * i / 40 + rng() % 97;
      write_bytes(tmp, std::vector<std::uint8_t>(
                           good.begin(), good.begin() + static_cast<std::ptrdiff_t>(std::min(cut, good.size() - 1))));
      EXPECT_THROW(clip::Checkpoint::load(tmp), clip::Error) << name << " cut at " << cut;
    }
    // Byte flips: an error, or (only where the zip format keeps no checksum, such as
    // timestamps) weights identical to the original. Never garbage, never a crash.
    const clip::Checkpoint original = clip::Checkpoint::load(dir / name / "model.pt");
    int errors = 0;
    for (int i = 0; i < 200; ++i) {
      auto bad = good;
      const std::size_t at = rng() % bad.size();
      bad[at] ^= static_cast<std::uint8_t>(1 + rng() % 255);
      write_bytes(tmp, bad);
      try {
        const clip::Checkpoint c = clip::Checkpoint::load(tmp);
        for (const std::string& key : original.keys())
          ASSERT_TRUE(same_bytes(c.at(key), original.at(key))) << "flip at " << at;
      } catch (const clip::Error&) {
        ++errors;
      }
    }
    EXPECT_GT(errors, 150) << name;
  }
  std::filesystem::remove(tmp);
}

TEST(CheckpointRobustness, SafetensorsHeaderDamage) {
  const auto tmp = std::filesystem::temp_directory_path() / "clip_bad.safetensors";
  clip::save_safetensors(tmp, {{"a", clip::Tensor({4}, clip::DType::Float32)}});
  auto good = read_bytes(tmp);
  for (std::size_t cut : {0ul, 4ul, 8ul, 20ul, good.size() - 1}) {
    write_bytes(tmp, std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
    EXPECT_THROW(clip::Checkpoint::load(tmp), clip::Error) << cut;
  }
  const std::string bad_headers[] = {
      R"({"a": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]}})",
      R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1600]}})",
      R"({"a": {"dtype": "Q9", "shape": [4], "data_offsets": [0, 16]}})",
      R"({"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}})",
      R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
      R"([1, 2, 3])", R"({"a": 1})", R"({not json)",
      // Found by fuzz_safetensors: a huge number parsed as a float, converted to an integer.
      R"({"a": {"dtype": "F32", "shape": [], "data_offsets": [812594050630280271345259, 12]}})",
      R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})"};
  for (const std::string& h : bad_headers) {
    std::vector<std::uint8_t> file(8);
    const std::uint64_t len = h.size();
    std::memcpy(file.data(), &len, 8);
    file.insert(file.end(), h.begin(), h.end());
    file.resize(file.size() + 16);
    write_bytes(tmp, file);
    EXPECT_THROW(clip::Checkpoint::load(tmp), clip::Error) << h;
  }
  std::filesystem::remove(tmp);
}

TEST(Pickle, RefusesGlobalsItDoesNotNeed) {
  // protocol 2: GLOBAL 'os system', then a call. A real unpickler would run a command.
  const std::string evil =
      "\x80\x02"
      "cos\nsystem\n"
      "X\x02\x00\x00\x00id"
      "\x85"
      "R.";
  try {
    clip::io::unpickle(std::span(reinterpret_cast<const std::uint8_t*>(evil.data()), evil.size()), "evil.pkl");
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("refusing pickle global 'os system'"), std::string::npos) << e.what();
  }
  for (const std::string bad : {std::string(""), std::string("\x80\x02"), std::string("(((((."), std::string("h\x05."),
                                std::string("\x80\x02}q\x00(X\x01\x00\x00\x00a"), std::string("\x80\x02\xff")}) {
    EXPECT_THROW(
        clip::io::unpickle(std::span(reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size()), "bad.pkl"),
        clip::Error);
  }
}

TEST(CheckpointRobustness, TinyZip64RecordIsAnError) {
  // Found by fuzz_zip: a file shorter than a zip64 record, whose end-of-directory asks for
  // one, made a bounds check underflow and read far outside the mapping.
  std::vector<std::uint8_t> file = {0x50, 0x4b, 0x06, 0x07, 0, 0, 0, 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
  const std::vector<std::uint8_t> eocd = {0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0xff, 0xff, 0xff,
                                          0xff, 0,    0,    0,    0, 0, 0, 0, 0,    0,    0};
  file.insert(file.end(), eocd.begin(), eocd.end());
  const auto tmp = std::filesystem::temp_directory_path() / "clip_tiny_zip64.pt";
  write_bytes(tmp, file);
  EXPECT_THROW(clip::Checkpoint::load(tmp), clip::Error);
  std::filesystem::remove(tmp);
}

TEST(Pickle, CyclesDoNotLeak) {
  // Found by fuzz_pickle: a list that contains itself (EMPTY_LIST, BINPUT 0, BINGET 0,
  // APPEND) leaked when values owned each other. Under LeakSanitizer this must stay clean.
  const std::string cyclic(
      "\x80\x02]q\x00h\x00"
      "a.",
      9);
  const auto out =
      clip::io::unpickle(std::span(reinterpret_cast<const std::uint8_t*>(cyclic.data()), cyclic.size()), "cyclic.pkl");
  ASSERT_EQ(out.root->kind, clip::io::PickleValue::Kind::List);
  EXPECT_EQ(out.root->items.at(0), out.root);
}

TEST(Tensor, HalfAndBFloat16Conversions) {
  const auto f = clip::Tensor::from_vector<float>({6}, {0.0f, 1.0f, -2.5f, 65504.0f, 5.96046448e-08f, 1.0009765625f});
  const clip::Tensor back = f.to(clip::DType::Float16).to(clip::DType::Float32);
  EXPECT_EQ(back.to_vector<float>(), f.to_vector<float>());
  EXPECT_EQ(f.to(clip::DType::BFloat16).to(clip::DType::Float32).to_vector<float>()[2], -2.5f);
  const auto rounding = clip::Tensor::from_vector<float>({2}, {1.00048828125f, 70000.0f});  // halfway; overflow
  const auto r = rounding.to(clip::DType::Float16).to(clip::DType::Float32).to_vector<float>();
  EXPECT_EQ(r[0], 1.0f);  // ties to even
  EXPECT_TRUE(std::isinf(r[1]));
}

}  // namespace
