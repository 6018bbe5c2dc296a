// The three towers of the reference (clip/model.py) on a backend: the text transformer
// (encode_text), VisionTransformer and ModifiedResNet (encode_image). Inputs are checked by
// clip::Model before they get here.
#pragma once

#include "clip/config.h"
#include "clip/tensor.h"
#include "model/weights.h"
#include "runtime/backend.h"

namespace clip::model {

// tokens int32/int64 [N, context] with ids inside the vocabulary -> float32 [N, embed].
Tensor encode_text(runtime::Backend& be, const ModelConfig& c, const TextTower& t, const Tensor& tokens);
// images float32 [N, 3, R, R] -> float32 [N, embed].
Tensor encode_vit(runtime::Backend& be, const ModelConfig& c, const VitTower& t, const Tensor& images);
Tensor encode_resnet(runtime::Backend& be, const ModelConfig& c, const ResNetTower& t, const Tensor& images);

// The backend's result rows as a host tensor [rows, cols].
inline Tensor download(runtime::Backend& be, const runtime::Buffer& x, std::int64_t rows, std::int64_t cols) {
  Tensor out({rows, cols}, DType::Float32);
  be.download(x.data(), rows * cols, out.data<float>());
  return out;
}
// A host float32 tensor in a backend buffer.
inline runtime::Buffer upload(runtime::Backend& be, const Tensor& x) {
  runtime::Buffer out = be.allocate(x.numel());
  be.upload(x.data<float>(), x.numel(), out.data());
  return out;
}

}  // namespace clip::model
