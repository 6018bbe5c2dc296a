// The CLIP state-dict names and shapes (build_model in clip/model.py).
#include "io/schema.h"

namespace clip::io::schema {

std::string resnet_stage(int stage) { return "visual.layer" + std::to_string(stage + 1) + "."; }
std::string resnet_block(int stage, int block) { return resnet_stage(stage) + std::to_string(block) + "."; }

std::vector<ConvBn> resnet_stem(const ModelConfig& c) {
  const std::int64_t w = c.vision_width, half = w / 2;
  return {{"visual.conv1.", "visual.bn1.", half, 3, 3},
          {"visual.conv2.", "visual.bn2.", half, half, 3},
          {"visual.conv3.", "visual.bn3.", w, half, 3}};
}

std::vector<Bottleneck> resnet_blocks(const ModelConfig& c) {
  std::vector<Bottleneck> out;
  std::int64_t inplanes = c.vision_width;
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t planes = std::int64_t{c.vision_width} << stage;
    for (int b = 0; b < c.vision_layers.at(static_cast<std::size_t>(stage)); ++b) {
      const std::string p = resnet_block(stage, b);
      Bottleneck block{{{p + "conv1.", p + "bn1.", planes, inplanes, 1},
                        {p + "conv2.", p + "bn2.", planes, planes, 3},
                        {p + "conv3.", p + "bn3.", planes * 4, planes, 1}},
                       b == 0 && stage > 0 ? 2 : 1};
      if (b == 0 && (block.stride > 1 || inplanes != planes * 4))
        block.convs.push_back({p + "downsample.0.", p + "downsample.1.", planes * 4, inplanes, 1});
      out.push_back(std::move(block));
      inplanes = planes * 4;
    }
  }
  return out;
}

namespace {

using Entries = std::vector<std::pair<std::string, Tensor::Shape>>;

void add_norm(Entries& out, const std::string& p, std::int64_t d) {
  out.push_back({p + "weight", {d}});
  out.push_back({p + "bias", {d}});
}

void add_transformer(Entries& out, const std::string& blocks, int layers, std::int64_t d, std::int64_t mlp) {
  for (int i = 0; i < layers; ++i) {
    const std::string p = blocks + std::to_string(i) + ".";
    out.push_back({p + kInProjWeight, {3 * d, d}});
    out.push_back({p + kInProjBias, {3 * d}});
    out.push_back({p + kOutProj + "weight", {d, d}});
    out.push_back({p + kOutProj + "bias", {d}});
    add_norm(out, p + kLn1, d);
    out.push_back({p + kMlpFc + "weight", {mlp, d}});
    out.push_back({p + kMlpFc + "bias", {mlp}});
    out.push_back({p + kMlpProj + "weight", {d, mlp}});
    out.push_back({p + kMlpProj + "bias", {d}});
    add_norm(out, p + kLn2, d);
  }
}

void add_conv_bn(Entries& out, const ConvBn& c) {
  out.push_back({c.conv + "weight", {c.out, c.in, c.kernel, c.kernel}});
  for (const char* s : {"weight", "bias", "running_mean", "running_var"}) out.push_back({c.bn + s, {c.out}});
}

}  // namespace

Entries parameters(const ModelConfig& c) {
  Entries out;
  const std::int64_t tw = c.transformer_width, vw = c.vision_width, e = c.embed_dim;
  out.push_back({kPositionalEmbedding, {c.context_length, tw}});
  out.push_back({kTextProjection, {tw, e}});
  out.push_back({kLogitScale, {}});
  out.push_back({kTokenEmbedding, {c.vocab_size, tw}});
  add_norm(out, kLnFinal, tw);
  add_transformer(out, kTextBlocks, c.transformer_layers, tw, c.transformer_mlp_width);
  if (c.vision_is_vit) {
    const std::int64_t p = c.vision_patch_size, grid = c.image_resolution / p;
    out.push_back({kVitClassEmbedding, {vw}});
    out.push_back({kVitPositionalEmbedding, {grid * grid + 1, vw}});
    out.push_back({kVitProj, {vw, e}});
    out.push_back({kVitPatchConv, {vw, 3, p, p}});
    add_norm(out, kVitLnPre, vw);
    add_norm(out, kVitLnPost, vw);
    add_transformer(out, kVitBlocks, c.vision_layers.at(0), vw, c.vision_mlp_width);
    return out;
  }
  for (const ConvBn& stem : resnet_stem(c)) add_conv_bn(out, stem);
  for (const Bottleneck& block : resnet_blocks(c))
    for (const ConvBn& conv : block.convs) add_conv_bn(out, conv);
  const std::int64_t pool_dim = vw * 32, spacial = c.image_resolution / 32;
  out.push_back({kAttnPoolPositionalEmbedding, {spacial * spacial + 1, pool_dim}});
  for (const char* proj : {"q_proj.", "k_proj.", "v_proj."}) {
    out.push_back({std::string(kAttnPool) + proj + "weight", {pool_dim, pool_dim}});
    out.push_back({std::string(kAttnPool) + proj + "bias", {pool_dim}});
  }
  out.push_back({std::string(kAttnPool) + "c_proj.weight", {e, pool_dim}});
  out.push_back({std::string(kAttnPool) + "c_proj.bias", {e}});
  return out;
}

bool is_buffer(const std::string& key) {
  return key.ends_with("running_mean") || key.ends_with("running_var") || key.ends_with("num_batches_tracked") ||
         key == "input_resolution" || key == "context_length" || key == "vocab_size";
}

}  // namespace clip::io::schema
