// ModifiedResNet (clip/model.py): a three-convolution stem with an average pool, four
// stages of Bottlenecks (anti-aliased: strided blocks pool first), AttentionPool2d.
#include "clip/error.h"
#include "model/towers.h"

namespace clip::model {

namespace {

using runtime::Backend;
using Layout = Backend::Layout;

// Feature maps in the layout the backend keeps them in (Backend::map_layout; the images
// come in as NCHW).
struct Maps {
  runtime::Buffer data;
  std::int64_t n, c, h, w;
  Layout layout;
  std::int64_t size() const { return n * c * h * w; }
};

// conv + BatchNorm [+ residual] [+ ReLU]. Folded (jit): one convolution with the rest
// fused into it. A residual is moved in and its storage becomes the output.
Maps conv_bn(Backend& be, const Maps& x, const ConvBn& conv, std::int64_t stride, bool relu, Maps* residual = nullptr) {
  using Epilogue = Backend::Epilogue;
  const std::int64_t k = conv.kernel, pad = k / 2;
  Maps y{{}, x.n, conv.out, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1,
         be.map_layout(conv.out)};
  if (residual && (residual->size() != y.size() || residual->layout != y.layout))
    throw Error("ModifiedResNet: residual of the wrong size or layout");
  if (!conv.mean) {
    y.data = residual ? std::move(residual->data) : be.allocate(y.size());
    const Epilogue epilogue =
        residual ? (relu ? Epilogue::AddToReLU : Epilogue::AddTo) : (relu ? Epilogue::ReLU : Epilogue::Store);
    be.conv2d(x.data.data(), x.n, x.c, x.h, x.w, conv.weight, conv.out, k, stride, pad, conv.bias, y.data.data(),
              epilogue, x.layout, y.layout);
    return y;
  }
  y.data = be.allocate(y.size());
  be.conv2d(x.data.data(), x.n, x.c, x.h, x.w, conv.weight, conv.out, k, stride, pad, nullptr, y.data.data(),
            Epilogue::Store, x.layout, y.layout);
  be.batch_norm(y.data.data(), y.n, y.c, y.h * y.w, conv.mean, conv.var, conv.gamma, conv.beta, y.layout);
  if (residual) be.add(residual->data.data(), y.data.data(), y.size());
  if (relu) be.relu(y.data.data(), y.size());
  return y;
}

Maps avg_pool(Backend& be, const Maps& x, std::int64_t k) {
  Maps y{{}, x.n, x.c, x.h / k, x.w / k, x.layout};
  y.data = be.allocate(y.size());
  be.avg_pool(x.data.data(), x.n, x.c, x.h, x.w, k, y.data.data(), x.layout);
  return y;
}

}  // namespace

Tensor encode_resnet(Backend& be, const ModelConfig& c, const ResNetTower& t, const Tensor& images) {
  const std::int64_t n = images.size(0), r = c.image_resolution;
  // The first convolution reads the images as they are, where the backend keeps its maps in
  // blocks (oneDNN has a fast kernel from NCHW to blocks, none from NHWC); else from NHWC.
  Maps x{upload(be, images), n, 3, r, r, Layout::NCHW};
  if (be.map_layout(t.stem[0].out) != Layout::Blocked16) {
    Maps nhwc{be.allocate(images.numel()), n, 3, r, r, Layout::NHWC};
    be.to_channels_last(x.data.data(), Layout::NCHW, n, 3, r * r, nhwc.data.data());
    x = std::move(nhwc);
  }
  x = conv_bn(be, x, t.stem[0], 2, true);
  x = conv_bn(be, x, t.stem[1], 1, true);
  x = conv_bn(be, x, t.stem[2], 1, true);
  x = avg_pool(be, x, 2);
  for (const Bottleneck& b : t.blocks) {
    Maps out = conv_bn(be, x, b.conv1, 1, true);
    out = conv_bn(be, out, b.conv2, 1, true);
    if (b.stride > 1) out = avg_pool(be, out, b.stride);
    // x is not needed after this point: it becomes the identity, or feeds the downsample.
    Maps identity = b.downsample ? conv_bn(be, b.stride > 1 ? avg_pool(be, x, b.stride) : x, *b.downsample, 1, false)
                                 : std::move(x);
    x = conv_bn(be, out, b.conv3, 1, true, &identity);  // relu(bn3(conv3) + identity)
  }
  // AttentionPool2d: the mean token attends to all positions, rows of channels.
  if (x.layout != Layout::NHWC) {
    Maps nhwc{be.allocate(x.size()), x.n, x.c, x.h, x.w, Layout::NHWC};
    be.to_channels_last(x.data.data(), x.layout, x.n, x.c, x.h * x.w, nhwc.data.data());
    x = std::move(nhwc);
  }
  const std::int64_t cdim = x.c, hw = x.h * x.w, tokens = hw + 1, e = c.embed_dim;
  runtime::Buffer seq = be.allocate(n * tokens * cdim);
  be.prepend_and_add_positions(x.data.data(), n, hw, cdim, nullptr, t.positional, seq.data());
  std::vector<std::int64_t> first(static_cast<std::size_t>(n));
  for (std::int64_t b = 0; b < n; ++b) first[static_cast<std::size_t>(b)] = b * tokens;
  runtime::Buffer mean = be.allocate(n * cdim), q = be.allocate(n * cdim), a = be.allocate(n * cdim),
                  out = be.allocate(n * e);
  be.gather_rows(seq.data(), cdim, first, mean.data());
  be.linear(mean.data(), n, cdim, t.q.w, cdim, t.q.bias, q.data());
  be.single_query_attention(q.data(), seq.data(), n, tokens, c.vision_heads, cdim / c.vision_heads, t.k.w, t.k.bias,
                            t.v.w, t.v.bias, a.data());
  be.linear(a.data(), n, cdim, t.c.w, e, t.c.bias, out.data());
  return download(be, out, n, e);
}

}  // namespace clip::model
