// build_model's hyper-parameter inference (clip/model.py), from tensor shapes alone; and
// Checkpoint::config, which applies it.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

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

}  // namespace

ModelConfig infer_config(const std::map<std::string, Tensor::Shape>& shapes, Activation activation) {
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
  if (c.vision_heads <= 0 || c.transformer_heads <= 0)
    throw Error("not a CLIP checkpoint: widths below 64 give no attention heads");
  return c;
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
  j["activation"] = activation_name(activation);
  return j.dump();
}

}  // namespace clip
