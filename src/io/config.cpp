// build_model's hyper-parameter inference (clip/model.py), from tensor shapes alone; and
// Checkpoint::config, which applies it.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "clip/config.h"
#include "clip/error.h"
#include "io/schema.h"

namespace clip {

namespace schema = io::schema;

const char* activation_name(Activation activation) {
  return activation == Activation::QuickGELU ? "quick_gelu" : "gelu";
}

namespace {

const Tensor::Shape& shape_of(const std::map<std::string, Tensor::Shape>& shapes, const std::string& key,
                              std::size_t rank) {
  const auto it = shapes.find(key);
  if (it == shapes.end()) throw Error("not a CLIP checkpoint: tensor '" + key + "' is missing");
  if (it->second.size() != rank)
    throw Error("not a CLIP checkpoint: '" + key + "' has shape " + Tensor::shape_string_of(it->second) +
                ", expected rank " + std::to_string(rank));
  return it->second;
}

int to_int(std::int64_t v, const std::string& what) {
  if (v <= 0 || v > (1 << 30)) throw Error("not a CLIP checkpoint: implausible " + what + " " + std::to_string(v));
  return static_cast<int>(v);
}

// Distinct values of the dotted component `index` among keys starting with `prefix`.
std::size_t distinct_component(const std::map<std::string, Tensor::Shape>& shapes, const std::string& prefix,
                               std::size_t index) {
  std::set<std::string> seen;
  for (const auto& [key, shape] : shapes) {
    if (key.rfind(prefix, 0) != 0) continue;
    std::size_t start = 0;
    for (std::size_t i = 0; i < index; ++i) {
      start = key.find('.', start);
      if (start == std::string::npos) break;
      ++start;
    }
    if (start == std::string::npos) continue;
    seen.insert(key.substr(start, key.find('.', start) - start));
  }
  return seen.size();
}

// round(sqrt(n - 1)), checked to be exact as build_model asserts for the ResNet case.
int grid_of(std::int64_t tokens, const std::string& key, bool exact) {
  const int grid = static_cast<int>(std::lround(std::sqrt(static_cast<double>(tokens - 1))));
  if (grid <= 0 || (exact && static_cast<std::int64_t>(grid) * grid + 1 != tokens))
    throw Error("not a CLIP checkpoint: '" + key + "' has " + std::to_string(tokens) + " positions, not grid^2 + 1");
  return grid;
}

// Everything the shapes tell; heads by OpenAI's rules (0 for a width under 64).
ModelConfig from_shapes(const std::map<std::string, Tensor::Shape>& shapes, Activation activation) {
  ModelConfig c;
  c.activation = activation;
  c.vision_is_vit = shapes.count(schema::kVitProj) != 0;
  if (c.vision_is_vit) {
    // Copies, not references: g++ 14 takes shape_of's result for a dangling temporary.
    const Tensor::Shape conv = shape_of(shapes, schema::kVitPatchConv, 4);
    c.vision_width = to_int(conv[0], "vision width");
    std::size_t layers = 0;
    for (const auto& [key, shape] : shapes)
      if (key.starts_with(schema::kVitBlocks) && key.ends_with(schema::kInProjWeight)) ++layers;
    c.vision_layers = {to_int(static_cast<std::int64_t>(layers), "vision layer count")};
    c.vision_patch_size = to_int(conv[3], "patch size");
    const int grid =
        grid_of(shape_of(shapes, schema::kVitPositionalEmbedding, 2)[0], schema::kVitPositionalEmbedding, true);
    c.image_resolution = c.vision_patch_size * grid;
    c.vision_heads = c.vision_width / 64;
    c.vision_mlp_width = to_int(
        shape_of(shapes, schema::kVitBlocks + std::string("0.") + schema::kMlpFc + "weight", 2)[0], "vision MLP width");
  } else {
    for (int b = 0; b < 4; ++b)
      c.vision_layers.push_back(
          to_int(static_cast<std::int64_t>(distinct_component(shapes, schema::resnet_stage(b), 2)),
                 "visual.layer" + std::to_string(b + 1) + " block count"));
    c.vision_width = to_int(shape_of(shapes, schema::resnet_block(0, 0) + "conv1.weight", 4)[0], "vision width");
    const Tensor::Shape pos = shape_of(shapes, schema::kAttnPoolPositionalEmbedding, 2);
    c.image_resolution = grid_of(pos[0], schema::kAttnPoolPositionalEmbedding, true) * 32;
    c.vision_heads = c.vision_width * 32 / 64;
  }
  c.embed_dim = to_int(shape_of(shapes, schema::kTextProjection, 2)[1], "embed dim");
  c.context_length = to_int(shape_of(shapes, schema::kPositionalEmbedding, 2)[0], "context length");
  c.vocab_size = to_int(shape_of(shapes, schema::kTokenEmbedding, 2)[0], "vocabulary size");
  c.transformer_width = to_int(shape_of(shapes, std::string(schema::kLnFinal) + "weight", 1)[0], "text width");
  c.transformer_heads = c.transformer_width / 64;
  c.transformer_layers =
      to_int(static_cast<std::int64_t>(distinct_component(shapes, schema::kTextBlocks, 2)), "text layer count");
  c.transformer_mlp_width = to_int(
      shape_of(shapes, schema::kTextBlocks + std::string("0.") + schema::kMlpFc + "weight", 2)[0], "text MLP width");
  return c;
}

}  // namespace

ModelConfig infer_config(const std::map<std::string, Tensor::Shape>& shapes, Activation activation) {
  ModelConfig c = from_shapes(shapes, activation);
  const auto refuse = [](const std::string& what) {
    throw Error("not a model OpenAI's rules can build: " + what +
                " (an open_clip model needs its open_clip_config.json: beside the weights, or named with "
                "config= / --config)");
  };
  if (c.vision_heads <= 0 || c.transformer_heads <= 0) refuse("widths below 64 give no attention heads");
  if (c.vision_is_vit && c.vision_mlp_width != 4 * c.vision_width)
    refuse("the vision MLP is " + std::to_string(c.vision_mlp_width) + " wide, not 4 x " +
           std::to_string(c.vision_width));
  if (c.transformer_mlp_width != 4 * c.transformer_width)
    refuse("the text MLP is " + std::to_string(c.transformer_mlp_width) + " wide, not 4 x " +
           std::to_string(c.transformer_width));
  return c;
}

bool ModelConfig::operator==(const ModelConfig& o) const {
  const auto tie = [](const ModelConfig& c) {
    return std::tie(c.embed_dim, c.image_resolution, c.vision_is_vit, c.vision_layers, c.vision_width,
                    c.vision_patch_size, c.vision_heads, c.vision_mlp_width, c.context_length, c.vocab_size,
                    c.transformer_width, c.transformer_heads, c.transformer_layers, c.transformer_mlp_width,
                    c.activation, c.image_mean, c.image_std, c.interpolation, c.resize_mode);
  };
  return tie(*this) == tie(o);
}

std::string ModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["embed_dim"] = embed_dim;
  j["image_resolution"] = image_resolution;
  if (vision_is_vit)
    j["vision_layers"] = vision_layers.at(0);
  else
    j["vision_layers"] = vision_layers;
  j["vision_width"] = vision_width;
  if (vision_is_vit)
    j["vision_patch_size"] = vision_patch_size;
  else
    j["vision_patch_size"] = nullptr;
  j["context_length"] = context_length;
  j["vocab_size"] = vocab_size;
  j["transformer_width"] = transformer_width;
  j["transformer_heads"] = transformer_heads;
  j["transformer_layers"] = transformer_layers;
  j["vision_heads"] = vision_heads;
  j["vision_mlp_width"] = vision_mlp_width;
  j["transformer_mlp_width"] = transformer_mlp_width;
  j["activation"] = activation_name(activation);
  j["image_mean"] = image_mean;
  j["image_std"] = image_std;
  j["interpolation"] = interpolation;
  j["resize_mode"] = resize_mode;
  if (!source.empty()) j["config_source"] = source;
  return j.dump();
}

namespace {

using Json = nlohmann::json;

// open_clip's configuration keys. Those that change the arithmetic are applied (and checked
// against the shapes); those listed with the value that changes nothing may appear with
// that value only; any other key is refused, so that nothing is silently ignored.
struct Section {
  const Json& j;
  std::string name;  // "model_cfg.vision_cfg" ...
  const std::string& where;
  std::set<std::string> seen;

  const Json* get(const std::string& key) {
    seen.insert(key);
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(where + ": " + name + "." + key + " " + why);
  }
  int integer(const std::string& key, int fallback) {
    const Json* v = get(key);
    if (!v) return fallback;
    if (!v->is_number_integer()) fail(key, "must be an integer, got " + v->dump());
    return v->get<int>();
  }
  double number(const std::string& key, double fallback) {
    const Json* v = get(key);
    if (!v) return fallback;
    if (!v->is_number()) fail(key, "must be a number, got " + v->dump());
    return v->get<double>();
  }
  // A number that must equal what the shapes say.
  void agree(const std::string& key, int from_shapes) {
    const Json* v = get(key);
    if (v && (!v->is_number_integer() || v->get<long long>() != from_shapes))
      fail(key, "is " + v->dump() + " but the weights say " + std::to_string(from_shapes));
  }
  // A key this library implements only with the value that changes nothing.
  void only(const std::string& key, const Json& allowed, const std::string& what) {
    const Json* v = get(key);
    if (v && *v != allowed) fail(key, "= " + v->dump() + " (" + what + ") is not supported by clip-cpp");
  }
  void no_other_keys() const {
    for (const auto& [key, value] : j.items())
      if (!seen.count(key) && !value.is_null()) fail(key, "is not supported by clip-cpp (it is not ignored either)");
  }
};

// int(width * mlp_ratio), Python's truncation (ViT-bigG-14: int(1664 * 4.9231) = 8192); -1
// for a ratio no MLP has (so that it disagrees with any weights, without overflow).
int mlp_width(int width, double ratio) {
  if (!(ratio > 0 && ratio <= 64)) return -1;
  return static_cast<int>(static_cast<double>(width) * ratio);
}

}  // namespace

ModelConfig apply_open_clip_config(const std::map<std::string, Tensor::Shape>& shapes, const std::string& json,
                                   const std::string& where) {
  Json j;
  try {
    j = Json::parse(json);
  } catch (const Json::exception& e) {
    throw Error(where + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(where + ": not an open_clip configuration (a JSON object)");
  // A hub file holds {"model_cfg", "preprocess_cfg"}; open_clip's model_configs/*.json the
  // model config alone.
  const bool wrapped = j.contains("model_cfg");
  const Json model_cfg = wrapped ? j["model_cfg"] : j;
  const Json preprocess_cfg = wrapped && j.contains("preprocess_cfg") ? j["preprocess_cfg"] : Json::object();
  if (!model_cfg.is_object() || !model_cfg.contains("vision_cfg") || !model_cfg.contains("text_cfg"))
    throw Error(where + ": not an open_clip configuration (no model_cfg with vision_cfg and text_cfg)");
  if (wrapped)
    for (const auto& [key, value] : j.items())
      if (key != "model_cfg" && key != "preprocess_cfg")
        throw Error(where + ": " + key + " is not supported by clip-cpp (it is not ignored either)");

  // Absent quick_gelu means nn.GELU, the exact erf one: open_clip's default.
  ModelConfig c = from_shapes(shapes, Activation::GELU);
  c.source = where;
  Section model{model_cfg, "model_cfg", where, {}};
  model.agree("embed_dim", c.embed_dim);
  if (const Json* q = model.get("quick_gelu")) {
    if (!q->is_boolean()) model.fail("quick_gelu", "must be true or false");
    c.activation = q->get<bool>() ? Activation::QuickGELU : Activation::GELU;
  }
  model.only("custom_text", false, "a text tower of another kind");
  model.only("init_logit_bias", Json(), "a logit bias (SigLIP)");
  model.get("init_logit_scale");  // the starting value for training only
  model.get("cast_dtype");        // the dtype open_clip computes in; we compute in float32 (or bf16 if asked)
  model.get("vision_cfg");
  model.get("text_cfg");
  model.no_other_keys();

  const Json& vcfg = model_cfg["vision_cfg"];
  const Json& tcfg = model_cfg["text_cfg"];
  if (!vcfg.is_object() || !tcfg.is_object()) throw Error(where + ": vision_cfg and text_cfg must be objects");
  Section vision{vcfg, "model_cfg.vision_cfg", where, {}};
  if (const Json* layers = vision.get("layers")) {
    const bool resnet = layers->is_array();
    if (resnet == c.vision_is_vit)
      vision.fail("layers", "= " + layers->dump() + " but the weights hold a " +
                                (c.vision_is_vit ? "VisionTransformer" : "ModifiedResNet"));
    if (resnet ? layers->get<std::vector<int>>() != c.vision_layers : layers->get<int>() != c.vision_layers.at(0))
      vision.fail("layers", "is " + layers->dump() + " but the weights have " +
                                (resnet ? Json(c.vision_layers).dump() : std::to_string(c.vision_layers.at(0))));
  }
  // ModifiedResNet: width is the stem's (layer1's planes); the weights' vision_width too.
  vision.agree("width", c.vision_width);
  if (const Json* size = vision.get("image_size")) {
    const bool square_list = size->is_array() && size->size() == 2 && (*size)[0] == (*size)[1];
    const Json side = square_list ? (*size)[0] : *size;
    if (!side.is_number_integer()) vision.fail("image_size", "must be a size (non-square images are not supported)");
    if (side.get<int>() != c.image_resolution)
      vision.fail("image_size", "is " + size->dump() + " but the weights say " + std::to_string(c.image_resolution));
  }
  const int head_width = vision.integer("head_width", 64);
  if (head_width <= 0) vision.fail("head_width", "must be positive");
  if (c.vision_is_vit) {
    vision.agree("patch_size", c.vision_patch_size);
    c.vision_heads = c.vision_width / head_width;
    if (c.vision_heads <= 0 || c.vision_width % c.vision_heads != 0)
      vision.fail("head_width", "= " + std::to_string(head_width) + " gives no head count that divides the width " +
                                    std::to_string(c.vision_width));
    const double ratio = vision.number("mlp_ratio", 4.0);
    if (mlp_width(c.vision_width, ratio) != c.vision_mlp_width)
      vision.fail("mlp_ratio", "= " + Json(ratio).dump() + " gives an MLP " +
                                   std::to_string(mlp_width(c.vision_width, ratio)) + " wide but the weights' is " +
                                   std::to_string(c.vision_mlp_width));
  } else {
    vision.get("patch_size");  // null for a ModifiedResNet
    c.vision_heads = c.vision_width * 32 / head_width;
    if (c.vision_heads <= 0 || (c.vision_width * 32) % c.vision_heads != 0)
      vision.fail("head_width", "= " + std::to_string(head_width) + " gives no head count for the attention pool");
  }
  vision.only("ls_init_value", Json(), "layer scale");
  vision.only("attentional_pool", false, "an attentional pooler");
  vision.only("no_ln_pre", false, "no LayerNorm before the transformer");
  vision.only("pool_type", "tok", "pooling other than the class token");
  vision.only("final_ln_after_pool", false, "LayerNorm after pooling");
  vision.only("global_average_pool", false, "average pooling instead of the class token");
  vision.only("output_tokens", false, "token outputs");
  vision.only("timm_model_name", Json(), "a timm tower");
  vision.only("input_patchnorm", false, "patch normalisation");
  vision.only("act_kwargs", Json(), "activation arguments");
  vision.only("norm_kwargs", Json(), "LayerNorm arguments");
  // open_clip applies patch dropout only while training; an eval forward is the same.
  vision.get("patch_dropout");
  vision.no_other_keys();

  Section text{tcfg, "model_cfg.text_cfg", where, {}};
  text.agree("context_length", c.context_length);
  text.agree("vocab_size", c.vocab_size);
  text.agree("width", c.transformer_width);
  text.agree("layers", c.transformer_layers);
  c.transformer_heads = text.integer("heads", 8);  // stated, not derived from the width
  if (c.transformer_heads <= 0 || c.transformer_width % c.transformer_heads != 0)
    text.fail("heads", "= " + std::to_string(c.transformer_heads) + " does not divide the width " +
                           std::to_string(c.transformer_width));
  const double text_ratio = text.number("mlp_ratio", 4.0);
  if (mlp_width(c.transformer_width, text_ratio) != c.transformer_mlp_width)
    text.fail("mlp_ratio", "= " + Json(text_ratio).dump() + " gives an MLP " +
                               std::to_string(mlp_width(c.transformer_width, text_ratio)) +
                               " wide but the weights' is " + std::to_string(c.transformer_mlp_width));
  text.only("ls_init_value", Json(), "layer scale");
  text.only("pool_type", "argmax", "pooling other than at the end-of-text token");
  text.only("no_causal_mask", false, "no causal mask");
  text.only("final_ln_after_pool", false, "LayerNorm after pooling");
  text.only("proj_bias", false, "a bias in the text projection");
  text.only("embed_cls", false, "a class token in the text tower");
  text.only("pad_id", 0, "another padding id");
  text.only("output_tokens", false, "token outputs");
  text.only("hf_model_name", Json(), "a Hugging Face text tower");
  text.only("hf_tokenizer_name", Json(), "another tokenizer");
  text.only("tokenizer_kwargs", Json(), "other text cleaning");
  text.only("eos_id", 49407, "another end-of-text token");
  text.only("act_kwargs", Json(), "activation arguments");
  text.only("norm_kwargs", Json(), "LayerNorm arguments");
  text.no_other_keys();

  Section pre{preprocess_cfg, "preprocess_cfg", where, {}};
  for (const char* key : {"mean", "std"}) {
    const Json* v = pre.get(key);
    if (!v) continue;  // OpenAI's
    std::array<float, 3>& out = std::string(key) == "mean" ? c.image_mean : c.image_std;
    if (v->is_number()) {
      out.fill(v->get<float>());
    } else if (v->is_array() && v->size() == 3 && (*v)[0].is_number() && (*v)[1].is_number() && (*v)[2].is_number()) {
      for (int i = 0; i < 3; ++i) out[static_cast<std::size_t>(i)] = (*v)[static_cast<std::size_t>(i)].get<float>();
    } else {
      pre.fail(key, "must be a number or three numbers, got " + v->dump());
    }
    if (std::string(key) == "std")
      for (float s : out)
        if (!(s > 0)) pre.fail(key, "must be positive");
  }
  if (const Json* v = pre.get("interpolation")) {
    if (*v != "bicubic" && *v != "bilinear")
      pre.fail("interpolation", "= " + v->dump() + " is not supported (bicubic, bilinear)");
    c.interpolation = v->get<std::string>();
  }
  if (const Json* v = pre.get("resize_mode")) {
    if (*v != "shortest" && *v != "squash" && *v != "longest")
      pre.fail("resize_mode", "= " + v->dump() + " is not supported (shortest, squash, longest)");
    c.resize_mode = v->get<std::string>();
  }
  pre.only("fill_color", 0, "a padding colour other than black");
  // open_clip may write the image size here too; it must be vision_cfg.image_size.
  const Json* size = pre.get("size");
  const Json square = Json::array({c.image_resolution, c.image_resolution});
  if (size && *size != c.image_resolution && *size != square)
    pre.fail("size", "is " + size->dump() + " but the weights say " + std::to_string(c.image_resolution));
  pre.no_other_keys();
  return c;
}

}  // namespace clip
