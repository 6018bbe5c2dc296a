// The three towers of the reference (clip/model.py): VisionTransformer, ModifiedResNet
// and the text transformer, written against the backend interface. Activations are
// batch-first ([N, L, D]) float32 buffers.
#include "clip/model.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "clip/error.h"
#include "clip/models.h"
#include "runtime/backend.h"

namespace clip {

// Activations. Not zero-filled on resize: every buffer is written in full before it is
// read (zeroing them cost ~4% of a ResNet image).
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using Buffer = std::vector<float, UninitializedAllocator<float>>;
using runtime::Backend;

struct Model::Impl {
  ModelConfig config;
  std::string device;
  bool jit = false;
  Precision precision = Precision::FP32;
  std::unique_ptr<Backend> backend;
  // The checkpoint's tensors (any float dtype, views of the file), converted to float32 on
  // first use: a process that only embeds images never converts the text tower.
  std::map<std::string, Tensor> source;
  mutable std::map<std::string, Tensor> params;  // float32, the state-dict names
  mutable std::mutex params_mutex;
  std::map<std::string, Tensor> folded;  // jit: "<conv>.weight" / "<conv>.bias" with BatchNorm folded in

  const float* w(const std::string& name) const { return param(name).data<float>(); }
  // A linear layer's weights for the backend: fp16 ones straight from the checkpoint (the
  // backend converts them while packing), unless a float32 version exists (replaced by
  // set_parameter, or read through parameter()).
  runtime::Weights linear_weights(const std::string& name) const {
    {
      std::lock_guard lock(params_mutex);
      const auto from = source.find(name);
      if (!params.count(name) && from != source.end() && from->second.dtype() == DType::Float16)
        return reinterpret_cast<const std::uint16_t*>(from->second.raw_data());
    }
    return w(name);
  }
  // std::map never moves its elements, so the reference stays valid after the lock.
  const Tensor& param(const std::string& name) const {
    std::lock_guard lock(params_mutex);
    if (const auto it = params.find(name); it != params.end()) return it->second;
    const auto from = source.find(name);
    if (from == source.end()) throw Error("model parameter '" + name + "' is missing");
    // float32 tensors stay views of the checkpoint (a private, copy-on-write mapping).
    return params.emplace(name, from->second.to(DType::Float32)).first->second;
  }
};

namespace {

// ---- The architecture's parameters and their shapes (as build_model creates them) -------

void add_transformer(std::vector<std::pair<std::string, Tensor::Shape>>& out, const std::string& prefix, int layers,
                     std::int64_t d) {
  for (int i = 0; i < layers; ++i) {
    const std::string p = prefix + "transformer.resblocks." + std::to_string(i) + ".";
    out.push_back({p + "attn.in_proj_weight", {3 * d, d}});
    out.push_back({p + "attn.in_proj_bias", {3 * d}});
    out.push_back({p + "attn.out_proj.weight", {d, d}});
    out.push_back({p + "attn.out_proj.bias", {d}});
    out.push_back({p + "ln_1.weight", {d}});
    out.push_back({p + "ln_1.bias", {d}});
    out.push_back({p + "mlp.c_fc.weight", {4 * d, d}});
    out.push_back({p + "mlp.c_fc.bias", {4 * d}});
    out.push_back({p + "mlp.c_proj.weight", {d, 4 * d}});
    out.push_back({p + "mlp.c_proj.bias", {d}});
    out.push_back({p + "ln_2.weight", {d}});
    out.push_back({p + "ln_2.bias", {d}});
  }
}

void add_batch_norm(std::vector<std::pair<std::string, Tensor::Shape>>& out, const std::string& p, std::int64_t c) {
  for (const char* s : {"weight", "bias", "running_mean", "running_var"}) out.push_back({p + s, {c}});
}

std::vector<std::pair<std::string, Tensor::Shape>> expected_parameters(const ModelConfig& c) {
  std::vector<std::pair<std::string, Tensor::Shape>> out;
  const std::int64_t tw = c.transformer_width, vw = c.vision_width, e = c.embed_dim;
  out.push_back({"positional_embedding", {c.context_length, tw}});
  out.push_back({"text_projection", {tw, e}});
  out.push_back({"logit_scale", {}});
  out.push_back({"token_embedding.weight", {c.vocab_size, tw}});
  out.push_back({"ln_final.weight", {tw}});
  out.push_back({"ln_final.bias", {tw}});
  add_transformer(out, "", c.transformer_layers, tw);
  if (c.vision_is_vit) {
    const std::int64_t p = c.vision_patch_size, grid = c.image_resolution / p;
    out.push_back({"visual.class_embedding", {vw}});
    out.push_back({"visual.positional_embedding", {grid * grid + 1, vw}});
    out.push_back({"visual.proj", {vw, e}});
    out.push_back({"visual.conv1.weight", {vw, 3, p, p}});
    for (const char* ln : {"visual.ln_pre.", "visual.ln_post."}) {
      out.push_back({std::string(ln) + "weight", {vw}});
      out.push_back({std::string(ln) + "bias", {vw}});
    }
    add_transformer(out, "visual.", c.vision_layers.at(0), vw);
    return out;
  }
  const std::int64_t half = vw / 2;
  out.push_back({"visual.conv1.weight", {half, 3, 3, 3}});
  add_batch_norm(out, "visual.bn1.", half);
  out.push_back({"visual.conv2.weight", {half, half, 3, 3}});
  add_batch_norm(out, "visual.bn2.", half);
  out.push_back({"visual.conv3.weight", {vw, half, 3, 3}});
  add_batch_norm(out, "visual.bn3.", vw);
  std::int64_t inplanes = vw;
  for (int layer = 0; layer < 4; ++layer) {
    const std::int64_t planes = vw << layer;
    for (int b = 0; b < c.vision_layers.at(static_cast<std::size_t>(layer)); ++b) {
      const std::string p = "visual.layer" + std::to_string(layer + 1) + "." + std::to_string(b) + ".";
      out.push_back({p + "conv1.weight", {planes, inplanes, 1, 1}});
      add_batch_norm(out, p + "bn1.", planes);
      out.push_back({p + "conv2.weight", {planes, planes, 3, 3}});
      add_batch_norm(out, p + "bn2.", planes);
      out.push_back({p + "conv3.weight", {planes * 4, planes, 1, 1}});
      add_batch_norm(out, p + "bn3.", planes * 4);
      if (b == 0 && (layer > 0 || inplanes != planes * 4)) {
        out.push_back({p + "downsample.0.weight", {planes * 4, inplanes, 1, 1}});
        add_batch_norm(out, p + "downsample.1.", planes * 4);
      }
      inplanes = planes * 4;
    }
  }
  const std::int64_t pool_dim = vw * 32, spacial = c.image_resolution / 32;
  out.push_back({"visual.attnpool.positional_embedding", {spacial * spacial + 1, pool_dim}});
  for (const char* proj : {"q_proj", "k_proj", "v_proj"}) {
    out.push_back({std::string("visual.attnpool.") + proj + ".weight", {pool_dim, pool_dim}});
    out.push_back({std::string("visual.attnpool.") + proj + ".bias", {pool_dim}});
  }
  out.push_back({"visual.attnpool.c_proj.weight", {e, pool_dim}});
  out.push_back({"visual.attnpool.c_proj.bias", {e}});
  return out;
}

// ---- Building blocks ---------------------------------------------------------------------

// Sequences of one length: `count` of them, `length` rows each.
struct SequenceGroup {
  std::int64_t count, length;
};

// Which row of each sequence the tower reads its feature from: the class token (first) in
// the vision transformer, the end-of-text token (last) in the text transformer.
enum class Readout { First, Last };

// ResidualAttentionBlock x layers on x: the rows of every sequence one after the other,
// group by group ([N, L, D] for a single group). Attention stays within a sequence; the
// linear layers run on all rows at once, with no padding between sequences. Returns the
// read-out row of each sequence, in order ([sequences, D]). Only those rows leave the last
// block, so it computes keys and values for all rows but the rest for the read-out rows
// alone: exact, and 7% less work for ViT-B/32.
Buffer transformer(const Model::Impl& m, const std::string& prefix, int layers, int heads, Buffer& x,
                   const std::vector<SequenceGroup>& groups, std::int64_t d, bool causal, Readout readout) {
  Backend& be = *m.backend;
  std::int64_t rows = 0, sequences = 0;
  for (const SequenceGroup& g : groups) {
    rows += g.count * g.length;
    sequences += g.count;
  }
  // Queries, keys and values in buffers of their own (the fused projection's three row
  // blocks of weights run as three linear layers), so attention reads dense rows.
  Buffer h(x.size()), q(x.size()), k(x.size()), v(x.size()), a(x.size());
  Buffer read(static_cast<std::size_t>(sequences * d)), out;  // the read-out rows
  const auto read_rows = [&](const Buffer& from, Buffer& to) {
    for (std::int64_t row = 0, seq = 0; const SequenceGroup& g : groups) {
      const std::int64_t r = readout == Readout::First ? 0 : g.length - 1;
      for (std::int64_t s = 0; s < g.count; ++s, ++seq)
        std::copy_n(from.data() + (row + s * g.length + r) * d, d, to.data() + seq * d);
      row += g.count * g.length;
    }
  };
  for (int i = 0; i < layers; ++i) {
    const std::string p = prefix + "transformer.resblocks." + std::to_string(i) + ".";
    const bool last = i == layers - 1;
    be.layer_norm(x.data(), rows, d, m.w(p + "ln_1.weight"), m.w(p + "ln_1.bias"), h.data());
    const runtime::Weights in_proj = m.linear_weights(p + "attn.in_proj_weight");
    const float* in_bias = m.w(p + "attn.in_proj_bias");
    std::vector<Backend::Projection> qkv{{in_proj.from_row(d, d), d, in_bias + d, k.data()},
                                         {in_proj.from_row(2 * d, d), d, in_bias + 2 * d, v.data()}};
    if (!last) qkv.push_back({in_proj, d, in_bias, q.data()});
    be.linear(h.data(), rows, d, qkv);
    if (last) {
      read_rows(h, read);
      be.linear(read.data(), sequences, d, in_proj, d, in_bias, q.data());
      out.resize(read.size());
      read_rows(x, out);
    }
    // One query per sequence in the last block; the last row sees every key, so it needs
    // no causal mask.
    for (std::int64_t row = 0, seq = 0; const SequenceGroup& g : groups) {
      const std::int64_t first_query = last ? seq : row;
      be.attention(q.data() + first_query * d, k.data() + row * d, v.data() + row * d, a.data() + first_query * d,
                   g.count, heads, last ? 1 : g.length, g.length, d / heads, causal && !last);
      row += g.count * g.length;
      seq += g.count;
    }
    Buffer& res = last ? out : x;  // the residual stream this block adds to
    const std::int64_t n = last ? sequences : rows;
    // The residual additions and the activation are fused into the linear layers.
    be.linear(a.data(), n, d, m.linear_weights(p + "attn.out_proj.weight"), d, m.w(p + "attn.out_proj.bias"), res.data(),
              false, Backend::Epilogue::AddTo);
    be.layer_norm(res.data(), n, d, m.w(p + "ln_2.weight"), m.w(p + "ln_2.bias"), h.data());
    const std::int64_t hidden = m.source.at(p + "mlp.c_fc.weight").size(0);  // no conversion just for the shape
    Buffer f(static_cast<std::size_t>(n * hidden));
    be.linear(h.data(), n, d, m.linear_weights(p + "mlp.c_fc.weight"), hidden, m.w(p + "mlp.c_fc.bias"), f.data(), false,
              m.config.activation == Activation::QuickGELU ? Backend::Epilogue::QuickGELU : Backend::Epilogue::GELU);
    be.linear(f.data(), n, hidden, m.linear_weights(p + "mlp.c_proj.weight"), d, m.w(p + "mlp.c_proj.bias"), res.data(),
              false, Backend::Epilogue::AddTo);
  }
  return out;
}

// Feature maps, channels last (NHWC): the layout oneDNN's convolutions run fastest on.
struct Maps {
  Buffer data;
  std::int64_t n, c, h, w;
};

// conv (no bias) + BatchNorm [+ residual] [+ ReLU]. With jit the BatchNorm is folded into
// the conv and the rest runs fused into it (oneDNN post-ops). A residual is moved in and
// its storage becomes the output.
Maps conv_bn(const Model::Impl& m, const Maps& x, const std::string& conv, const std::string& bn, std::int64_t kernel,
             std::int64_t stride, bool relu, Maps* residual = nullptr) {
  using Epilogue = Backend::Epilogue;
  const Tensor& weight = m.param(conv + ".weight");
  const std::int64_t out_c = weight.size(0), pad = kernel / 2;
  Maps y{{}, x.n, out_c, (x.h + 2 * pad - kernel) / stride + 1, (x.w + 2 * pad - kernel) / stride + 1};
  const auto size = static_cast<std::size_t>(y.n * y.c * y.h * y.w);
  if (residual && residual->data.size() != size) throw Error(conv + ": residual of the wrong size");
  if (m.jit) {
    if (residual) y.data = std::move(residual->data);
    else y.data.resize(size);
    const Epilogue epilogue = residual ? (relu ? Epilogue::AddToReLU : Epilogue::AddTo)
                                       : (relu ? Epilogue::ReLU : Epilogue::Store);
    m.backend->conv2d(x.data.data(), x.n, x.c, x.h, x.w, m.folded.at(conv + ".weight").data<float>(), out_c, kernel,
                      stride, pad, m.folded.at(conv + ".bias").data<float>(), y.data.data(), epilogue);
    return y;
  }
  y.data.resize(size);
  m.backend->conv2d(x.data.data(), x.n, x.c, x.h, x.w, weight.data<float>(), out_c, kernel, stride, pad, nullptr,
                    y.data.data());
  m.backend->batch_norm(y.data.data(), y.n, y.c, y.h * y.w, m.w(bn + ".running_mean"), m.w(bn + ".running_var"),
                        m.w(bn + ".weight"), m.w(bn + ".bias"));
  if (residual) m.backend->add(residual->data.data(), y.data.data(), static_cast<std::int64_t>(size));
  if (relu) m.backend->relu(y.data.data(), static_cast<std::int64_t>(size));
  return y;
}

Maps avg_pool(const Model::Impl& m, const Maps& x, std::int64_t k) {
  Maps y{{}, x.n, x.c, x.h / k, x.w / k};
  y.data.resize(static_cast<std::size_t>(y.n * y.c * y.h * y.w));
  m.backend->avg_pool(x.data.data(), x.n, x.c, x.h, x.w, k, y.data.data());
  return y;
}

Tensor encode_image_vit(const Model::Impl& m, const Tensor& images) {
  Backend& be = *m.backend;
  const ModelConfig& c = m.config;
  const std::int64_t n = images.size(0), r = c.image_resolution, p = c.vision_patch_size, grid = r / p,
                     tokens = grid * grid + 1, d = c.vision_width, e = c.embed_dim;
  // The patch convolution (stride = kernel) as one matmul over flattened patches.
  Buffer patches(static_cast<std::size_t>(n * grid * grid * 3 * p * p));
  const float* img = images.data<float>();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t gy = 0; gy < grid; ++gy)
      for (std::int64_t gx = 0; gx < grid; ++gx)
        for (std::int64_t ch = 0; ch < 3; ++ch)
          for (std::int64_t ky = 0; ky < p; ++ky)
            std::copy_n(img + ((b * 3 + ch) * r + gy * p + ky) * r + gx * p, p,
                        patches.data() + ((b * grid + gy) * grid + gx) * 3 * p * p + (ch * p + ky) * p);
  Buffer emb(static_cast<std::size_t>(n * grid * grid * d));
  be.linear(patches.data(), n * grid * grid, 3 * p * p, m.linear_weights("visual.conv1.weight"), d, nullptr, emb.data());
  Buffer x(static_cast<std::size_t>(n * tokens * d));
  const float* cls = m.w("visual.class_embedding");
  const float* pos = m.w("visual.positional_embedding");
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t t = 0; t < tokens; ++t) {
      const float* src = t == 0 ? cls : emb.data() + (b * grid * grid + t - 1) * d;
      float* dst = x.data() + (b * tokens + t) * d;
      for (std::int64_t i = 0; i < d; ++i) dst[i] = src[i] + pos[t * d + i];
    }
  be.layer_norm(x.data(), n * tokens, d, m.w("visual.ln_pre.weight"), m.w("visual.ln_pre.bias"), x.data());
  Buffer cls_out = transformer(m, "visual.", c.vision_layers[0], c.vision_heads, x, {{n, tokens}}, d, false, Readout::First);
  be.layer_norm(cls_out.data(), n, d, m.w("visual.ln_post.weight"), m.w("visual.ln_post.bias"), cls_out.data());
  Tensor out({n, e}, DType::Float32);
  be.linear(cls_out.data(), n, d, m.linear_weights("visual.proj"), e, nullptr, out.data<float>(), true);
  return out;
}

Tensor encode_image_resnet(const Model::Impl& m, const Tensor& images) {
  Backend& be = *m.backend;
  const ModelConfig& c = m.config;
  const std::int64_t n = images.size(0), r = c.image_resolution;
  Maps x{Buffer(static_cast<std::size_t>(images.numel())), n, 3, r, r};
  const float* img = images.data<float>();
  for (std::int64_t b = 0; b < n; ++b)  // NCHW -> NHWC
    for (std::int64_t ch = 0; ch < 3; ++ch)
      for (std::int64_t p = 0; p < r * r; ++p) x.data[static_cast<std::size_t>((b * r * r + p) * 3 + ch)] = img[(b * 3 + ch) * r * r + p];
  x = conv_bn(m, x, "visual.conv1", "visual.bn1", 3, 2, true);
  x = conv_bn(m, x, "visual.conv2", "visual.bn2", 3, 1, true);
  x = conv_bn(m, x, "visual.conv3", "visual.bn3", 3, 1, true);
  x = avg_pool(m, x, 2);
  std::int64_t inplanes = c.vision_width;
  for (int layer = 0; layer < 4; ++layer) {
    const std::int64_t planes = static_cast<std::int64_t>(c.vision_width) << layer;
    for (int b = 0; b < c.vision_layers[static_cast<std::size_t>(layer)]; ++b) {
      const std::int64_t stride = b == 0 && layer > 0 ? 2 : 1;
      const std::string p = "visual.layer" + std::to_string(layer + 1) + "." + std::to_string(b) + ".";
      Maps out = conv_bn(m, x, p + "conv1", p + "bn1", 1, 1, true);
      out = conv_bn(m, out, p + "conv2", p + "bn2", 3, 1, true);
      if (stride > 1) out = avg_pool(m, out, stride);
      // x is not needed after this point: it becomes the identity, or feeds the downsample.
      Maps identity = b == 0 && (stride > 1 || inplanes != planes * 4)
                          ? conv_bn(m, stride > 1 ? avg_pool(m, x, stride) : x, p + "downsample.0",
                                    p + "downsample.1", 1, 1, false)
                          : std::move(x);
      x = conv_bn(m, out, p + "conv3", p + "bn3", 1, 1, true, &identity);  // relu(bn3(conv3) + identity)
      inplanes = planes * 4;
    }
  }
  // AttentionPool2d: the mean token attends to all positions.
  const std::int64_t cdim = x.c, hw = x.h * x.w, tokens = hw + 1, e = c.embed_dim;
  const float* pos = m.w("visual.attnpool.positional_embedding");
  Buffer t(static_cast<std::size_t>(n * tokens * cdim));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < cdim; ++ch) {
      const float* map = x.data.data() + b * hw * cdim + ch;  // NHWC: positions are cdim apart
      double mean = 0;
      for (std::int64_t i = 0; i < hw; ++i) mean += map[i * cdim];
      t[static_cast<std::size_t>(b * tokens * cdim + ch)] = static_cast<float>(mean / static_cast<double>(hw)) + pos[ch];
      for (std::int64_t i = 0; i < hw; ++i)
        t[static_cast<std::size_t>((b * tokens + 1 + i) * cdim + ch)] = map[i * cdim] + pos[(1 + i) * cdim + ch];
    }
  Buffer first(static_cast<std::size_t>(n * cdim)), q(first.size()), k(t.size()), v(t.size()), a(first.size());
  for (std::int64_t b = 0; b < n; ++b) std::copy_n(t.data() + b * tokens * cdim, cdim, first.data() + b * cdim);
  be.linear(first.data(), n, cdim, m.linear_weights("visual.attnpool.q_proj.weight"), cdim, m.w("visual.attnpool.q_proj.bias"), q.data());
  be.linear(t.data(), n * tokens, cdim, m.linear_weights("visual.attnpool.k_proj.weight"), cdim, m.w("visual.attnpool.k_proj.bias"), k.data());
  be.linear(t.data(), n * tokens, cdim, m.linear_weights("visual.attnpool.v_proj.weight"), cdim, m.w("visual.attnpool.v_proj.bias"), v.data());
  be.attention(q.data(), k.data(), v.data(), a.data(), n, c.vision_heads, 1, tokens, cdim / c.vision_heads, false);
  Tensor out({n, e}, DType::Float32);
  be.linear(a.data(), n, cdim, m.linear_weights("visual.attnpool.c_proj.weight"), e, m.w("visual.attnpool.c_proj.bias"),
            out.data<float>());
  return out;
}

std::int64_t token_at(const Tensor& tokens, std::int64_t i) {
  return tokens.dtype() == DType::Int32 ? tokens.data<std::int32_t>()[i] : tokens.data<std::int64_t>()[i];
}

}  // namespace

// ---- Model -------------------------------------------------------------------------------

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  throw Error("unknown precision '" + name + "' (fp32 or bf16)");
}

Model Model::from_checkpoint(const Checkpoint& checkpoint, const std::string& device, bool jit, Precision precision) {
  if (device != "cpu")
    throw Error("device '" + device + "' is not available: this build of clip-cpp runs on the CPU only (device \"cpu\")");
  auto impl = std::make_shared<Impl>();
  impl->config = checkpoint.config();
  impl->device = device;
  impl->jit = jit;
  impl->precision = precision;
  impl->backend = runtime::make_cpu_backend();
  impl->backend->set_bf16_linear(precision == Precision::BF16);
  for (const auto& [name, shape] : expected_parameters(impl->config)) {
    if (!checkpoint.contains(name)) throw Error(checkpoint.path().string() + ": tensor '" + name + "' is missing");
    const Tensor& t = checkpoint.at(name);
    if (t.shape() != shape)
      throw Error(checkpoint.path().string() + ": tensor '" + name + "' has shape " + t.shape_string() + ", expected " +
                  Tensor::shape_string_of(shape));
    impl->source[name] = t;
  }
  if (jit) {
    // Fold each BatchNorm into the convolution before it: w' = w * s, b' = beta - mean * s,
    // with s = gamma / sqrt(var + eps).
    for (const auto& [name, shape] : expected_parameters(impl->config)) {
      if (!name.ends_with("running_mean")) continue;
      const std::string bn = name.substr(0, name.size() - std::string(".running_mean").size());
      const std::string conv = bn.ends_with("downsample.1") ? bn.substr(0, bn.size() - 1) + "0"
                                                            : bn.substr(0, bn.size() - 3) + "conv" + bn.substr(bn.size() - 1);
      const Tensor& weight = impl->param(conv + ".weight");
      Tensor folded = weight.clone(), bias({weight.size(0)}, DType::Float32);
      const std::int64_t per = weight.numel() / weight.size(0);
      for (std::int64_t o = 0; o < weight.size(0); ++o) {
        const float s = impl->w(bn + ".weight")[o] / std::sqrt(impl->w(bn + ".running_var")[o] + 1e-5f);
        for (std::int64_t i = 0; i < per; ++i) folded.data<float>()[o * per + i] *= s;
        bias.data<float>()[o] = impl->w(bn + ".bias")[o] - impl->w(bn + ".running_mean")[o] * s;
      }
      impl->folded[conv + ".weight"] = folded;
      impl->folded[conv + ".bias"] = bias;
    }
  }
  Model model;
  model.impl_ = std::move(impl);
  return model;
}

const ModelConfig& Model::config() const { return impl_->config; }
float Model::logit_scale() const { return impl_->w("logit_scale")[0]; }
bool Model::jit() const { return impl_->jit; }
Precision Model::precision() const { return impl_->precision; }
const std::string& Model::device() const { return impl_->device; }
void Model::set_num_threads(int threads) { impl_->backend->set_num_threads(threads); }
int Model::num_threads() const { return impl_->backend->num_threads(); }

std::vector<std::string> Model::parameter_names() const {
  std::vector<std::string> names;
  for (const auto& [name, shape] : expected_parameters(impl_->config)) names.push_back(name);
  return names;
}

Tensor Model::parameter(const std::string& name) const {
  if (impl_->jit) throw Error("a jit model's weights are prepared for the backend and not readable by name; load with jit = false");
  return impl_->param(name);
}

void Model::set_parameter(const std::string& name, const Tensor& value) {
  if (impl_->jit) throw Error("a jit model's weights are read-only; load with jit = false to replace parameters");
  const auto current = impl_->source.find(name);
  if (current == impl_->source.end()) throw Error("model parameter '" + name + "' is missing");
  if (value.shape() != current->second.shape())
    throw Error("set_parameter: '" + name + "' has shape " + current->second.shape_string() + ", got " +
                value.shape_string());
  {
    std::lock_guard lock(impl_->params_mutex);
    impl_->params[name] = value.to(DType::Float32).clone();
  }
  impl_->backend->clear_weight_cache();
}

Tensor Model::encode_image(const Tensor& images) const {
  const std::int64_t r = impl_->config.image_resolution;
  if (images.dtype() != DType::Float32) throw Error("encode_image: images must be float32, got " + std::string(dtype_name(images.dtype())));
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != r || images.size(3) != r)
    throw Error("encode_image: expected images of shape [N, 3, " + std::to_string(r) + ", " + std::to_string(r) +
                "], got " + images.shape_string());
  if (images.size(0) == 0) throw Error("encode_image: empty batch");
  return impl_->config.vision_is_vit ? encode_image_vit(*impl_, images) : encode_image_resnet(*impl_, images);
}

Tensor Model::encode_text(const Tensor& tokens) const {
  const ModelConfig& c = impl_->config;
  if (tokens.dtype() != DType::Int32 && tokens.dtype() != DType::Int64)
    throw Error("encode_text: tokens must be int32 or int64, got " + std::string(dtype_name(tokens.dtype())));
  if (tokens.dim() != 2 || tokens.size(1) != c.context_length)
    throw Error("encode_text: expected tokens of shape [N, " + std::to_string(c.context_length) + "], got " +
                tokens.shape_string());
  const std::int64_t n = tokens.size(0), context = c.context_length, d = c.transformer_width, e = c.embed_dim;
  if (n == 0) throw Error("encode_text: empty batch");
  // The feature is read at the end-of-text token (the largest id of the row). With the
  // causal mask nothing after it can reach it, so no position past a row's own EOT is
  // computed: the same result, for a fraction of the work on short prompts.
  std::vector<std::int64_t> eot(static_cast<std::size_t>(n), 0);
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t t = 0; t < context; ++t) {
      const std::int64_t id = token_at(tokens, b * context + t);
      if (id < 0 || id >= c.vocab_size)
        throw Error("encode_text: token id " + std::to_string(id) + " (row " + std::to_string(b) + ", position " +
                    std::to_string(t) + ") is outside the vocabulary of " + std::to_string(c.vocab_size));
      if (id > token_at(tokens, b * context + eot[static_cast<std::size_t>(b)])) eot[static_cast<std::size_t>(b)] = t;
    }
  // Each row is computed up to its own end token only; rows of equal length share the
  // attention calls. Shortest first: order[i] is the row at position i.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t b = 0; b < n; ++b) order[static_cast<std::size_t>(b)] = b;
  const auto length = [&](std::int64_t b) { return eot[static_cast<std::size_t>(b)] + 1; };
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return length(a) < length(b); });
  std::vector<SequenceGroup> groups;
  std::vector<std::int64_t> start(static_cast<std::size_t>(n));  // first packed row of each input row
  std::int64_t rows = 0;
  for (const std::int64_t b : order) {
    if (groups.empty() || groups.back().length != length(b)) groups.push_back({0, length(b)});
    ++groups.back().count;
    start[static_cast<std::size_t>(b)] = rows;
    rows += length(b);
  }
  Buffer x(static_cast<std::size_t>(rows * d));
  const float* emb = impl_->w("token_embedding.weight");
  const float* pos = impl_->w("positional_embedding");
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t t = 0; t < length(b); ++t) {
      const std::int64_t id = token_at(tokens, b * context + t);
      float* row = x.data() + (start[static_cast<std::size_t>(b)] + t) * d;
      for (std::int64_t i = 0; i < d; ++i) row[i] = emb[id * d + i] + pos[t * d + i];
    }
  const Buffer packed =
      transformer(*impl_, "", c.transformer_layers, c.transformer_heads, x, groups, d, true, Readout::Last);
  Buffer sel(static_cast<std::size_t>(n * d));  // back in the input's row order
  for (std::size_t i = 0; i < order.size(); ++i) std::copy_n(packed.data() + i * d, d, sel.data() + order[i] * d);
  impl_->backend->layer_norm(sel.data(), n, d, impl_->w("ln_final.weight"), impl_->w("ln_final.bias"), sel.data());
  Tensor out({n, e}, DType::Float32);
  impl_->backend->linear(sel.data(), n, d, impl_->linear_weights("text_projection"), e, nullptr, out.data<float>(), true);
  return out;
}

Tensor normalize(const Tensor& x) {
  if (x.dtype() != DType::Float32 || x.dim() < 1) throw Error("normalize: expected a float32 tensor");
  Tensor out = x.clone();
  const std::int64_t d = x.size(-1), rows = d ? x.numel() / d : 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = out.data<float>() + r * d;
    double sum = 0;
    for (std::int64_t i = 0; i < d; ++i) sum += static_cast<double>(row[i]) * row[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (std::int64_t i = 0; i < d; ++i) row[i] *= inv;
  }
  return out;
}

std::pair<Tensor, Tensor> Model::operator()(const Tensor& images, const Tensor& tokens) const {
  const Tensor img = normalize(encode_image(images)), txt = normalize(encode_text(tokens));
  const std::int64_t ni = img.size(0), nt = txt.size(0), e = img.size(1);
  Tensor per_image({ni, nt}, DType::Float32), per_text({nt, ni}, DType::Float32);
  const float scale = std::exp(logit_scale());
  for (std::int64_t i = 0; i < ni; ++i)
    for (std::int64_t t = 0; t < nt; ++t) {
      float dot = 0;
      for (std::int64_t k = 0; k < e; ++k) dot += img.data<float>()[i * e + k] * txt.data<float>()[t * e + k];
      per_image.data<float>()[i * nt + t] = per_text.data<float>()[t * ni + i] = scale * dot;
    }
  return {per_image, per_text};
}

Tensor softmax(const Tensor& x, int dim) {
  if (x.dtype() != DType::Float32) throw Error("softmax: expected a float32 tensor");
  const std::int64_t rank = x.dim(), axis = dim < 0 ? dim + rank : dim;
  if (axis < 0 || axis >= rank) throw Error("softmax: dimension " + std::to_string(dim) + " out of range for " + x.shape_string());
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < axis; ++i) outer *= x.size(i);
  for (std::int64_t i = axis + 1; i < rank; ++i) inner *= x.size(i);
  const std::int64_t len = x.size(axis);
  Tensor out = x.clone();
  float* p = out.data<float>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t in = 0; in < inner; ++in) {
      const auto at = [&](std::int64_t i) -> float& { return p[(o * len + i) * inner + in]; };
      float max = at(0);
      for (std::int64_t i = 1; i < len; ++i) max = std::max(max, at(i));
      double sum = 0;
      for (std::int64_t i = 0; i < len; ++i) sum += at(i) = std::exp(at(i) - max);
      for (std::int64_t i = 0; i < len; ++i) at(i) = static_cast<float>(at(i) / sum);
    }
  return out;
}

std::string default_device() { return "cpu"; }

std::pair<Model, Preprocess> load(const std::string& name_or_path, const std::string& device, bool jit,
                                  const std::filesystem::path& download_root, Precision precision) {
  // A built-in model, then (as the reference) an official name, then a file;
  // download_model reports an unknown name.
  const auto builtin = builtin_models();
  const auto names = available_models();
  const auto listed = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), name_or_path) != list.end();
  };
  DownloadOptions options;
  options.root = download_root;
  const Checkpoint checkpoint =
      listed(builtin) ? Checkpoint::load_builtin(name_or_path)
      : !listed(names) && std::filesystem::is_regular_file(name_or_path)
          ? Checkpoint::load(name_or_path)
          : Checkpoint::load(download_model(name_or_path, options));
  Model model = Model::from_checkpoint(checkpoint, device, jit, precision);
  return {model, Preprocess(model.input_resolution())};
}

}  // namespace clip
