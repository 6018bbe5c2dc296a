// Binding the checkpoint's tensors to the towers' weight structs.
#include "model/weights.h"

#include <cmath>

#include "clip/error.h"
#include "io/schema.h"

namespace clip::model {

namespace schema = io::schema;

ParameterStore::ParameterStore(const Checkpoint& checkpoint, const ModelConfig& config) {
  for (const auto& [name, shape] : schema::parameters(config)) {
    if (!checkpoint.contains(name)) throw Error(checkpoint.path().string() + ": tensor '" + name + "' is missing");
    const Tensor& t = checkpoint.at(name);
    if (t.shape() != shape)
      throw Error(checkpoint.path().string() + ": tensor '" + name + "' has shape " + t.shape_string() + ", expected " +
                  Tensor::shape_string_of(shape));
    source_[name] = t;
  }
}

const Tensor& ParameterStore::source(const std::string& name) const {
  const auto it = source_.find(name);
  if (it == source_.end()) throw Error("model parameter '" + name + "' is missing");
  return it->second;
}

Tensor ParameterStore::float32(const std::string& name) {
  if (const auto it = converted_.find(name); it != converted_.end()) return it->second;
  // float32 tensors stay views of the checkpoint (a private, copy-on-write mapping).
  return converted_.emplace(name, source(name).to(DType::Float32)).first->second;
}

const float* ParameterStore::f32(const std::string& name) { return float32(name).data<float>(); }

runtime::Weights ParameterStore::linear_weights(const std::string& name) {
  const Tensor& t = source(name);
  if (!converted_.count(name) && t.dtype() == DType::Float16)
    return reinterpret_cast<const std::uint16_t*>(t.raw_data());
  return f32(name);
}

Linear ParameterStore::linear(const std::string& prefix, bool with_bias) {
  const std::string weight = prefix + "weight";
  const Tensor& w = source(weight);
  return {linear_weights(weight), with_bias ? f32(prefix + "bias") : nullptr, w.size(1), w.size(0), false};
}

Norm ParameterStore::norm(const std::string& prefix) { return {f32(prefix + "weight"), f32(prefix + "bias")}; }

void ParameterStore::replace(const std::string& name, const Tensor& value) {
  const Tensor& current = source(name);
  if (value.shape() != current.shape())
    throw Error("set_parameter: '" + name + "' has shape " + current.shape_string() + ", got " + value.shape_string());
  converted_[name] = value.to(DType::Float32).clone();
}

ConvBn ParameterStore::conv_bn(const std::string& conv, const std::string& bn, bool fold) {
  const Tensor& w = source(conv + "weight");
  ConvBn out{nullptr, nullptr, w.size(0), w.size(1), w.size(2)};
  if (!fold) {
    out.weight = f32(conv + "weight");
    out.mean = f32(bn + "running_mean");
    out.var = f32(bn + "running_var");
    out.gamma = f32(bn + "weight");
    out.beta = f32(bn + "bias");
    return out;
  }
  // w' = w * s, b' = beta - mean * s, with s = gamma / sqrt(var + eps).
  Tensor folded = float32(conv + "weight").clone(), bias({out.out}, DType::Float32);
  const float *gamma = f32(bn + "weight"), *beta = f32(bn + "bias"), *mean = f32(bn + "running_mean"),
              *var = f32(bn + "running_var");
  const std::int64_t per = folded.numel() / out.out;
  for (std::int64_t o = 0; o < out.out; ++o) {
    const float s = gamma[o] / std::sqrt(var[o] + 1e-5f);
    for (std::int64_t i = 0; i < per; ++i) folded.data<float>()[o * per + i] *= s;
    bias.data<float>()[o] = beta[o] - mean[o] * s;
  }
  out.weight = (folded_[conv + "weight"] = folded).data<float>();
  out.bias = (folded_[conv + "bias"] = bias).data<float>();
  return out;
}

namespace {

std::vector<Block> bind_blocks(ParameterStore& store, const std::string& blocks, int layers) {
  std::vector<Block> out;
  for (int i = 0; i < layers; ++i) {
    const std::string p = blocks + std::to_string(i) + ".";
    Block b;
    b.ln_1 = store.norm(p + schema::kLn1);
    const Tensor& in_proj = store.source(p + schema::kInProjWeight);
    b.in_proj = {store.linear_weights(p + schema::kInProjWeight), store.f32(p + schema::kInProjBias), in_proj.size(1),
                 in_proj.size(0), false};
    b.out_proj = store.linear(p + schema::kOutProj);
    b.ln_2 = store.norm(p + schema::kLn2);
    b.fc = store.linear(p + schema::kMlpFc);
    b.proj = store.linear(p + schema::kMlpProj);
    out.push_back(b);
  }
  return out;
}

// A [in, out] projection matrix (text_projection, visual.proj).
Linear projection(ParameterStore& store, const std::string& name) {
  const Tensor& t = store.source(name);
  return {store.linear_weights(name), nullptr, t.size(0), t.size(1), true};
}

}  // namespace

TextTower bind_text(ParameterStore& store, const ModelConfig& c) {
  TextTower t;
  t.token_embedding = store.f32(schema::kTokenEmbedding);
  t.positional = store.f32(schema::kPositionalEmbedding);
  t.blocks = bind_blocks(store, schema::kTextBlocks, c.transformer_layers);
  t.ln_final = store.norm(schema::kLnFinal);
  t.projection = projection(store, schema::kTextProjection);
  return t;
}

VitTower bind_vit(ParameterStore& store, const ModelConfig& c) {
  VitTower t;
  const Tensor& conv = store.source(schema::kVitPatchConv);  // [width, 3, p, p] read as [width, 3 p p]
  t.patch = {store.linear_weights(schema::kVitPatchConv), nullptr, conv.numel() / conv.size(0), conv.size(0), false};
  t.class_embedding = store.f32(schema::kVitClassEmbedding);
  t.positional = store.f32(schema::kVitPositionalEmbedding);
  t.ln_pre = store.norm(schema::kVitLnPre);
  t.blocks = bind_blocks(store, schema::kVitBlocks, c.vision_layers.at(0));
  t.ln_post = store.norm(schema::kVitLnPost);
  t.projection = projection(store, schema::kVitProj);
  return t;
}

ResNetTower bind_resnet(ParameterStore& store, const ModelConfig& c, bool fold) {
  ResNetTower t;
  for (const schema::ConvBn& s : schema::resnet_stem(c)) t.stem.push_back(store.conv_bn(s.conv, s.bn, fold));
  for (const schema::Bottleneck& s : schema::resnet_blocks(c)) {
    Bottleneck b;
    b.conv1 = store.conv_bn(s.convs[0].conv, s.convs[0].bn, fold);
    b.conv2 = store.conv_bn(s.convs[1].conv, s.convs[1].bn, fold);
    b.conv3 = store.conv_bn(s.convs[2].conv, s.convs[2].bn, fold);
    if (s.convs.size() == 4) b.downsample = store.conv_bn(s.convs[3].conv, s.convs[3].bn, fold);
    b.stride = s.stride;
    t.blocks.push_back(b);
  }
  const std::string pool = schema::kAttnPool;
  t.positional = store.f32(schema::kAttnPoolPositionalEmbedding);
  t.q = store.linear(pool + "q_proj.");
  t.k = store.linear(pool + "k_proj.");
  t.v = store.linear(pool + "v_proj.");
  t.c = store.linear(pool + "c_proj.");
  return t;
}

}  // namespace clip::model
