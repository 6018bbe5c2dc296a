// The model's weights as the forward pass reads them: one struct per block, bound once
// from the checkpoint by the names of the state-dict schema (io/schema.h), so the forward
// code does no name building or lookups.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clip/checkpoint.h"
#include "runtime/backend.h"

namespace clip::model {

// A Linear layer: weight [out, in] (or [in, out] for the projection matrices, `kn`), bias
// or null. The weight may be float16 (the backend converts it while packing).
struct Linear {
  runtime::Weights w{static_cast<const float*>(nullptr)};
  const float* bias = nullptr;
  std::int64_t in = 0, out = 0;
  bool kn = false;
};

struct Norm {
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

// ResidualAttentionBlock.
struct Block {
  Norm ln_1, ln_2;
  Linear in_proj, out_proj, fc, proj;  // in_proj: q, k, v stacked ([3d, d])
};

// A convolution and the BatchNorm after it: folded into weight and bias (jit), or kept
// apart (bias null; the statistics run as a BatchNorm op).
struct ConvBn {
  const float* weight = nullptr;  // [out, in, k, k]
  const float* bias = nullptr;
  std::int64_t out = 0, in = 0, kernel = 0;
  const float *mean = nullptr, *var = nullptr, *gamma = nullptr, *beta = nullptr;
};

struct Bottleneck {
  ConvBn conv1, conv2, conv3;
  std::optional<ConvBn> downsample;
  std::int64_t stride = 1;
};

struct TextTower {
  const float* token_embedding = nullptr;  // [vocab, d]
  const float* positional = nullptr;       // [context, d]
  std::vector<Block> blocks;
  Norm ln_final;
  Linear projection;  // [d, embed], kn
};

struct VitTower {
  Linear patch;  // the patch convolution as a Linear over flattened patches: [width, 3 p p]
  const float* class_embedding = nullptr;
  const float* positional = nullptr;  // [grid^2 + 1, width]
  Norm ln_pre, ln_post;
  std::vector<Block> blocks;
  Linear projection;  // [width, embed], kn
};

struct ResNetTower {
  std::vector<ConvBn> stem;  // 3
  std::vector<Bottleneck> blocks;
  const float* positional = nullptr;  // AttentionPool2d's, [spacial^2 + 1, width * 32]
  Linear q, k, v, c;
};

// The checkpoint's tensors by state-dict name, and the float32 copies and folded
// convolutions made from them. Not thread-safe: the model binds under its own lock.
class ParameterStore {
 public:
  // Takes every tensor the schema names for `config`, checking each shape.
  ParameterStore(const Checkpoint& checkpoint, const ModelConfig& config);

  // float32 values: a view when the checkpoint holds float32, else converted once and kept.
  const float* f32(const std::string& name);
  // A Linear's weights: float16 ones as the checkpoint holds them, unless replaced.
  runtime::Weights linear_weights(const std::string& name);
  Linear linear(const std::string& prefix, bool with_bias = true);  // "<prefix>weight", "<prefix>bias"
  Norm norm(const std::string& prefix);

  const Tensor& source(const std::string& name) const;         // clip::Error when the schema has no such name
  Tensor float32(const std::string& name);                     // the values as float32 (a copy shares storage)
  void replace(const std::string& name, const Tensor& value);  // checks the shape

  // A convolution with its BatchNorm, folded when `fold`.
  ConvBn conv_bn(const std::string& conv, const std::string& bn, bool fold);

 private:
  std::map<std::string, Tensor> source_;     // views of the checkpoint
  std::map<std::string, Tensor> converted_;  // float32 (converted or replaced)
  std::map<std::string, Tensor> folded_;     // jit: "<conv>weight" / "<conv>bias"
};

TextTower bind_text(ParameterStore& store, const ModelConfig& config);
VitTower bind_vit(ParameterStore& store, const ModelConfig& config);
ResNetTower bind_resnet(ParameterStore& store, const ModelConfig& config, bool fold_batch_norms);

}  // namespace clip::model
