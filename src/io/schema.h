// The CLIP state dict: every parameter's name and shape, as the reference's build_model
// (clip/model.py) creates them. The one place those names are spelled: config inference
// (io/config.cpp), the expected-parameter check and Model::parameter_names, the Hugging
// Face renamer (io/safetensors.cpp), the buffer rule of parameter_count and the model's
// weight binding (model/weights.cpp) all read them here.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "clip/config.h"
#include "clip/tensor.h"

namespace clip::io::schema {

// The text tower and the logit scale.
inline constexpr const char* kTokenEmbedding = "token_embedding.weight";
inline constexpr const char* kPositionalEmbedding = "positional_embedding";
inline constexpr const char* kLnFinal = "ln_final.";
inline constexpr const char* kTextProjection = "text_projection";
inline constexpr const char* kLogitScale = "logit_scale";
inline constexpr const char* kTextBlocks = "transformer.resblocks.";

// VisionTransformer (its presence tells a ViT from a ModifiedResNet).
inline constexpr const char* kVitProj = "visual.proj";
inline constexpr const char* kVitPatchConv = "visual.conv1.weight";
inline constexpr const char* kVitClassEmbedding = "visual.class_embedding";
inline constexpr const char* kVitPositionalEmbedding = "visual.positional_embedding";
inline constexpr const char* kVitLnPre = "visual.ln_pre.";
inline constexpr const char* kVitLnPost = "visual.ln_post.";
inline constexpr const char* kVitBlocks = "visual.transformer.resblocks.";

// ModifiedResNet: a stem of three conv+BatchNorm pairs, four stages of Bottlenecks, an
// AttentionPool2d.
inline constexpr const char* kAttnPool = "visual.attnpool.";
inline constexpr const char* kAttnPoolPositionalEmbedding = "visual.attnpool.positional_embedding";
std::string resnet_stage(int stage);             // "visual.layer<stage + 1>."
std::string resnet_block(int stage, int block);  // "visual.layer<stage + 1>.<block>."

// One ResidualAttentionBlock's parameters, after its prefix (kTextBlocks or kVitBlocks + "<i>.").
inline constexpr const char* kInProjWeight = "attn.in_proj_weight";
inline constexpr const char* kInProjBias = "attn.in_proj_bias";
inline constexpr const char* kOutProj = "attn.out_proj.";
inline constexpr const char* kLn1 = "ln_1.";
inline constexpr const char* kLn2 = "ln_2.";
inline constexpr const char* kMlpFc = "mlp.c_fc.";
inline constexpr const char* kMlpProj = "mlp.c_proj.";

// A convolution (no bias) and the BatchNorm after it, as their name prefixes
// ("visual.conv1.", "visual.bn1."), with the convolution's shape.
struct ConvBn {
  std::string conv, bn;
  std::int64_t out, in, kernel;
};
// The three stem pairs of a ModifiedResNet.
std::vector<ConvBn> resnet_stem(const ModelConfig& c);
// One Bottleneck: conv1/bn1, conv2/bn2, conv3/bn3 and, in the first block of a stage that
// changes the shape, downsample.0/downsample.1. Its input width and stride with it.
struct Bottleneck {
  std::vector<ConvBn> convs;  // 3, or 4 with the downsample last
  std::int64_t stride;
};
std::vector<Bottleneck> resnet_blocks(const ModelConfig& c);

// Every parameter and buffer build_model creates for `c`, in its order, with its shape.
std::vector<std::pair<std::string, Tensor::Shape>> parameters(const ModelConfig& c);

// BatchNorm statistics and the TorchScript scalars: buffers, not parameters (the
// reference's parameter count leaves them out).
bool is_buffer(const std::string& key);

}  // namespace clip::io::schema
