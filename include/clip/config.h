// The hyper-parameters of a CLIP model, as the reference's build_model (clip/model.py)
// infers them from a state dict's shapes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "clip/export.h"
#include "clip/tensor.h"

namespace clip {

enum class Activation { QuickGELU, GELU };
CLIP_API const char* activation_name(Activation activation);  // "quick_gelu", "gelu"

struct CLIP_API ModelConfig {
  int embed_dim = 0;
  int image_resolution = 0;
  bool vision_is_vit = true;
  std::vector<int> vision_layers;  // ViT: {layers}; ModifiedResNet: the four stage depths
  int vision_width = 0;
  int vision_patch_size = 0;  // 0 for ModifiedResNet
  int vision_heads = 0;       // ViT: width / 64; ModifiedResNet: width * 32 / 64
  int context_length = 0;
  int vocab_size = 0;
  int transformer_width = 0;
  int transformer_heads = 0;
  int transformer_layers = 0;
  Activation activation = Activation::QuickGELU;

  bool operator==(const ModelConfig&) const = default;
  std::string to_json() const;  // the keys of the reference's build_model arguments, + activation
};

// build_model's inference, from key -> shape. Missing or inconsistent keys are a
// clip::Error naming them.
CLIP_API ModelConfig infer_config(const std::map<std::string, Tensor::Shape>& shapes,
                                  Activation activation = Activation::QuickGELU);

}  // namespace clip
