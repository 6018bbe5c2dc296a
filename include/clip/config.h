// The hyper-parameters of a CLIP model: what the reference's build_model (clip/model.py)
// infers from a state dict's shapes, and what open_clip reads from its configuration
// (open_clip_config.json: head widths, MLP ratios, activation, preprocessing), which
// shapes cannot tell.
#pragma once

#include <array>
#include <filesystem>
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
  int vision_heads = 0;       // ViT: width / head_width; ModifiedResNet: width * 32 / head_width (64: OpenAI's)
  int vision_mlp_width = 0;   // ViT: int(width * mlp_ratio) (4 * width: OpenAI's); 0 for ModifiedResNet
  int context_length = 0;
  int vocab_size = 0;
  int transformer_width = 0;
  int transformer_heads = 0;  // OpenAI's: width / 64; open_clip states it
  int transformer_layers = 0;
  int transformer_mlp_width = 0;                  // int(width * mlp_ratio) (4 * width: OpenAI's)
  Activation activation = Activation::QuickGELU;  // of every MLP (a ModifiedResNet's: the text tower's)

  // The image transform (open_clip's preprocess_cfg; OpenAI's _transform by default).
  std::array<float, 3> image_mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> image_std{0.26862954f, 0.26130258f, 0.27577711f};
  std::string interpolation = "bicubic";  // or "bilinear"
  std::string resize_mode = "shortest";   // or "squash", "longest" (padded with black)

  // Where the numbers shapes cannot tell came from: "" (OpenAI's rules for an OpenAI file),
  // the open_clip_config.json read, or "assumed": a file of unknown origin read by OpenAI's
  // rules (clip::load warns, naming what was assumed).
  std::string source;

  // The same model and transform, wherever the numbers came from (`source` aside).
  bool operator==(const ModelConfig& other) const;
  std::string to_json() const;  // the keys of the reference's build_model arguments, + the rest
};

// build_model's inference, from key -> shape. Missing or inconsistent keys, and shapes
// OpenAI's rules cannot build (an MLP not 4 x width, a width under 64), are a clip::Error
// naming them.
CLIP_API ModelConfig infer_config(const std::map<std::string, Tensor::Shape>& shapes,
                                  Activation activation = Activation::QuickGELU);

// The configuration open_clip publishes next to its weights ({"model_cfg": ...,
// "preprocess_cfg": ...}, or a bare model config), applied to what the shapes say: heads
// from head_width and text heads, MLP widths from mlp_ratio, the activation from quick_gelu
// (absent: exact GELU, as open_clip builds it), the preprocessing. Every number must agree
// with the shapes; a field that would change the architecture in a way this library does
// not implement (layer scale, attentional pooling, another pooling, no ln_pre, timm or
// Hugging Face towers, ...) is a clip::Error naming it, never ignored. `where` names the
// file in messages.
CLIP_API ModelConfig apply_open_clip_config(const std::map<std::string, Tensor::Shape>& shapes, const std::string& json,
                                            const std::string& where);

}  // namespace clip
