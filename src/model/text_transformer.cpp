// encode_text (clip/model.py): token embedding + positions, the causal transformer, the
// final LayerNorm, the features at the end-of-text token, text_projection.
#include <algorithm>

#include "model/towers.h"
#include "model/transformer.h"

namespace clip::model {

namespace {
std::int64_t token_at(const Tensor& tokens, std::int64_t i) {
  return tokens.dtype() == DType::Int32 ? tokens.data<std::int32_t>()[i] : tokens.data<std::int64_t>()[i];
}
}  // namespace

Tensor encode_text(runtime::Backend& be, const ModelConfig& c, const TextTower& t, const Tensor& tokens) {
  const std::int64_t n = tokens.size(0), context = c.context_length, d = c.transformer_width, e = c.embed_dim;
  // The feature is read at the end-of-text token (the largest id of the row). With the
  // causal mask nothing after it can reach it, so no position past a row's own EOT is
  // computed: the same result, for a fraction of the work on short prompts.
  std::vector<std::int64_t> length(static_cast<std::size_t>(n));
  for (std::int64_t b = 0; b < n; ++b) {
    std::int64_t eot = 0;
    for (std::int64_t i = 1; i < context; ++i)
      if (token_at(tokens, b * context + i) > token_at(tokens, b * context + eot)) eot = i;
    length[static_cast<std::size_t>(b)] = eot + 1;
  }
  // Rows of equal length share the attention calls. Shortest first: order[i] is the input
  // row at position i.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t b = 0; b < n; ++b) order[static_cast<std::size_t>(b)] = b;
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return length[static_cast<std::size_t>(a)] < length[static_cast<std::size_t>(b)];
  });
  std::vector<SequenceGroup> groups;
  std::vector<std::int64_t> ids, positions, position_of(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::int64_t b = order[i], len = length[static_cast<std::size_t>(b)];
    if (groups.empty() || groups.back().length != len) groups.push_back({0, len});
    ++groups.back().count;
    position_of[static_cast<std::size_t>(b)] = static_cast<std::int64_t>(i);
    for (std::int64_t p = 0; p < len; ++p) {
      ids.push_back(token_at(tokens, b * context + p));
      positions.push_back(p);
    }
  }
  runtime::Buffer x = be.allocate(static_cast<std::int64_t>(ids.size()) * d);
  be.embed_tokens(t.token_embedding, t.positional, d, ids, positions, x.data());
  const runtime::Buffer packed =
      transformer(be, t.blocks, c.transformer_heads, c.activation, x, groups, d, true, Readout::Last);
  runtime::Buffer rows = be.allocate(n * d), out = be.allocate(n * e);
  be.gather_rows(packed.data(), d, position_of, rows.data());  // back in the input's row order
  be.layer_norm(rows.data(), n, d, t.ln_final.gamma, t.ln_final.beta, rows.data());
  be.linear(rows.data(), n, d, t.projection.w, e, nullptr, out.data(), true);
  return download(be, out, n, e);
}

}  // namespace clip::model
