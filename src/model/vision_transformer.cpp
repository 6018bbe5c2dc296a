// VisionTransformer (clip/model.py): the patch convolution, class token and positions,
// ln_pre, the transformer, ln_post at the class token, proj.
#include "model/towers.h"
#include "model/transformer.h"

namespace clip::model {

Tensor encode_vit(runtime::Backend& be, const ModelConfig& c, const VitTower& t, const Tensor& images) {
  const std::int64_t n = images.size(0), r = c.image_resolution, p = c.vision_patch_size, grid = r / p,
                     tokens = grid * grid + 1, d = c.vision_width, e = c.embed_dim;
  const runtime::Buffer pixels = upload(be, images);
  // The patch convolution (stride = kernel) as one matmul over flattened patches.
  runtime::Buffer patches = be.allocate(n * grid * grid * 3 * p * p), emb = be.allocate(n * grid * grid * d);
  be.patchify(pixels.data(), n, 3, r, p, patches.data());
  be.linear(patches.data(), n * grid * grid, 3 * p * p, t.patch.w, d, nullptr, emb.data());
  runtime::Buffer x = be.allocate(n * tokens * d);
  be.prepend_and_add_positions(emb.data(), n, grid * grid, d, t.class_embedding, t.positional, x.data());
  be.layer_norm(x.data(), n * tokens, d, t.ln_pre.gamma, t.ln_pre.beta, x.data());
  const runtime::Buffer cls =
      transformer(be, t.blocks, c.vision_heads, c.activation, x, {{n, tokens}}, d, false, Readout::First);
  be.layer_norm(cls.data(), n, d, t.ln_post.gamma, t.ln_post.beta, cls.data());
  runtime::Buffer out = be.allocate(n * e);
  be.linear(cls.data(), n, d, t.projection.w, e, nullptr, out.data(), true);
  return download(be, out, n, e);
}

}  // namespace clip::model
