// Transformer (clip/model.py): ResidualAttentionBlock x layers, batch-first.
#include "model/transformer.h"

namespace clip::model {

using runtime::Backend;
using runtime::Buffer;
using runtime::Weights;

// Attention stays within a sequence; the linear layers run on all rows at once, with no
// padding between sequences. Only the read-out rows leave the last block, so it computes
// everything for them alone, their attention by single_query_attention (which needs no
// keys or values for the other rows): exact, and 8% less work for ViT-B/32.
Buffer transformer(Backend& be, const std::vector<Block>& blocks, int heads, Activation activation, Buffer& x,
                   const std::vector<SequenceGroup>& groups, std::int64_t d, bool causal, Readout readout) {
  std::int64_t rows = 0, sequences = 0;
  std::vector<std::int64_t> read_out;  // the read-out row of each sequence
  for (const SequenceGroup& g : groups) {
    for (std::int64_t s = 0; s < g.count; ++s)
      read_out.push_back(rows + s * g.length + (readout == Readout::First ? 0 : g.length - 1));
    rows += g.count * g.length;
    sequences += g.count;
  }
  // Queries, keys and values in buffers of their own (the fused projection's three row
  // blocks of weights run as three linear layers), so attention reads dense rows.
  Buffer h = be.allocate(rows * d), q = be.allocate(rows * d), k = be.allocate(rows * d), v = be.allocate(rows * d),
         a = be.allocate(rows * d);
  Buffer read = be.allocate(sequences * d), out = be.allocate(sequences * d);  // the read-out rows
  const Backend::Epilogue act =
      activation == Activation::QuickGELU ? Backend::Epilogue::QuickGELU : Backend::Epilogue::GELU;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    const bool last = i + 1 == blocks.size();
    be.layer_norm(x.data(), rows, d, b.ln_1.gamma, b.ln_1.beta, h.data());
    const Weights wk = b.in_proj.w.from_row(d, d), wv = b.in_proj.w.from_row(2 * d, d);
    const float *bk = b.in_proj.bias + d, *bv = b.in_proj.bias + 2 * d;
    if (!last) {
      be.linear(h.data(), rows, d,
                {{wk, d, bk, k.data()}, {wv, d, bv, v.data()}, {b.in_proj.w, d, b.in_proj.bias, q.data()}});
      for (std::int64_t row = 0; const SequenceGroup& g : groups) {
        be.attention(q.data() + row * d, k.data() + row * d, v.data() + row * d, a.data() + row * d, g.count, heads,
                     g.length, g.length, d / heads, causal);
        row += g.count * g.length;
      }
    } else {
      // One query per sequence; the last row sees every key, so it needs no causal mask.
      be.gather_rows(h.data(), d, read_out, read.data());
      be.linear(read.data(), sequences, d, b.in_proj.w, d, b.in_proj.bias, q.data());
      be.gather_rows(x.data(), d, read_out, out.data());
      for (std::int64_t row = 0, seq = 0; const SequenceGroup& g : groups) {
        be.single_query_attention(q.data() + seq * d, h.data() + row * d, g.count, g.length, heads, d / heads, wk, bk,
                                  wv, bv, a.data() + seq * d);
        row += g.count * g.length;
        seq += g.count;
      }
    }
    Buffer& res = last ? out : x;  // the residual stream this block adds to
    const std::int64_t n = last ? sequences : rows;
    // The residual additions and the activation are fused into the linear layers.
    be.linear(a.data(), n, d, b.out_proj.w, d, b.out_proj.bias, res.data(), false, Backend::Epilogue::AddTo);
    be.layer_norm(res.data(), n, d, b.ln_2.gamma, b.ln_2.beta, h.data());
    const Buffer f = be.allocate(n * b.fc.out);
    be.linear(h.data(), n, d, b.fc.w, b.fc.out, b.fc.bias, f.data(), false, act);
    be.linear(f.data(), n, b.fc.out, b.proj.w, d, b.proj.bias, res.data(), false, Backend::Epilogue::AddTo);
  }
  return out;
}

}  // namespace clip::model
