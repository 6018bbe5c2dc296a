// Backend conformance (the ncnn way): every operation of every backend against the
// reference backend's plain loops, on small random shapes, through the backend's own
// buffers (allocate, upload, download), so a GPU backend runs this suite unchanged. Cases:
// each epilogue, both weight layouts, fp32 and fp16 weights, bf16 within its tolerance,
// single-query attention against projections then attention,
// causal and non-causal attention with q_rows != kv_rows, Winograd-eligible and ineligible
// convolutions (with the rn50-tiny shapes oneDNN 3.7 once packed wrongly), the data
// movement ops, prepared weights forgotten after a change, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "clip/error.h"
#include "runtime/backend.h"

namespace {

using clip::runtime::Backend;
using clip::runtime::Buffer;
using Epilogue = Backend::Epilogue;
using Layout = Backend::Layout;

const Epilogue kEpilogues[] = {Epilogue::Store, Epilogue::QuickGELU, Epilogue::GELU,
                               Epilogue::ReLU,  Epilogue::AddTo,     Epilogue::AddToReLU};

std::vector<float> random_values(std::int64_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = normal(rng);
  return v;
}

// float16 weights as a checkpoint holds them: random signs and mantissas, magnitudes 1/8 to 4
// times 2^scale_exponent.
std::vector<std::uint16_t> random_halves(std::size_t count, unsigned seed, int scale_exponent = 0) {
  std::vector<std::uint16_t> out(count);
  std::mt19937 rng(seed);
  for (std::uint16_t& h : out)
    h = static_cast<std::uint16_t>(
        (rng() & 0x8000u) | ((static_cast<unsigned>(12 + scale_exponent) + rng() % 5u) << 10) | (rng() & 0x3ffu));
  return out;
}

// |got - want| <= tolerance * (1 + |want|) everywhere.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what,
                  float tolerance = 1e-4f) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tolerance * (1.0f + std::abs(want[i])))) ++bad;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " values differ";
}

// Host values in a backend's memory, and back.
struct On {
  Backend& be;
  Buffer operator()(const std::vector<float>& host) const {
    Buffer b = be.allocate(static_cast<std::int64_t>(host.size()));
    be.upload(host.data(), b.size(), b.data());
    return b;
  }
  Buffer zeros(std::int64_t count) const { return (*this)(std::vector<float>(static_cast<std::size_t>(count))); }
  std::vector<float> host(const Buffer& b) const {
    std::vector<float> out(static_cast<std::size_t>(b.size()));
    be.download(b.data(), b.size(), out.data());
    return out;
  }
};

// Runs `op` on the backend under test and on the reference, each with its own copies of
// the inputs, and compares every output. `op` takes (backend, its buffers) and fills them.
template <class Op>
void compare(Backend& tested, const std::vector<std::vector<float>>& inputs, const std::string& what, Op op,
             float tolerance = 1e-4f) {
  auto reference = clip::runtime::make_reference_backend();
  std::vector<std::vector<float>> results[2];
  Backend* backends[2] = {&tested, reference.get()};
  for (int i = 0; i < 2; ++i) {
    const On on{*backends[i]};
    std::vector<Buffer> buffers;
    for (const auto& in : inputs) buffers.push_back(on(in));
    op(*backends[i], buffers);
    for (const Buffer& b : buffers) results[i].push_back(on.host(b));
  }
  for (std::size_t b = 0; b < inputs.size(); ++b)
    expect_close(results[0][b], results[1][b], what + " (buffer " + std::to_string(b) + ")", tolerance);
}

class Conformance : public testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Backend> make() const { return clip::runtime::make_backend(GetParam()); }
};

TEST_P(Conformance, LinearEveryEpilogueLayoutAndWeightType) {
  const std::int64_t m = 5, k = 24, n = 40;
  const auto x = random_values(m * k, 11), w = random_values(n * k, 12), bias = random_values(n, 13),
             previous = random_values(m * n, 14);
  const std::vector<std::uint16_t> w16 = random_halves(w.size(), 15);
  auto be = make();
  for (Epilogue epilogue : kEpilogues)
    for (bool w_is_kn : {false, true})
      for (bool fp16 : {false, true})
        for (bool with_bias : {false, true}) {
          const clip::runtime::Weights weights =
              fp16 ? clip::runtime::Weights(w16.data()) : clip::runtime::Weights(w.data());
          // Three times: plain weights first, then packed ones (prepared, then reused).
          for (int round = 0; round < 3; ++round)
            compare(*be, {x, previous},
                    "linear epilogue " + std::to_string(static_cast<int>(epilogue)) + (w_is_kn ? " kn" : " nk") +
                        (fp16 ? " fp16" : " fp32") + (with_bias ? " bias" : "") + " round " + std::to_string(round),
                    [&](Backend& b, std::vector<Buffer>& io) {
                      b.linear(io[0].data(), m, k, weights, n, with_bias ? bias.data() : nullptr, io[1].data(), w_is_kn,
                               epilogue);
                    });
        }
}

TEST_P(Conformance, LinearProjectionsShareTheirInput) {
  const std::int64_t m = 7, k = 32, n = 32;
  const auto x = random_values(m * k, 41), w = random_values(3 * n * k, 42), bias = random_values(3 * n, 43);
  auto be = make();
  for (int round = 0; round < 3; ++round)
    compare(*be, {x, std::vector<float>(m * n), std::vector<float>(m * n)},
            "projections round " + std::to_string(round), [&](Backend& b, std::vector<Buffer>& io) {
              const clip::runtime::Weights weights(w.data());
              b.linear(io[0].data(), m, k,
                       {{weights.from_row(n, k), n, bias.data() + n, io[1].data()},
                        {weights.from_row(2 * n, k), n, bias.data() + 2 * n, io[2].data()}});
            });
}

TEST_P(Conformance, Bf16LinearWithinItsBound) {
  const std::int64_t m = 6, k = 64, n = 48;
  const auto x = random_values(m * k, 51), w = random_values(n * k, 52), bias = random_values(n, 53);
  auto be = make();
  be->set_bf16_linear(true);
  auto reference = clip::runtime::make_reference_backend();
  const On on{*be}, on_reference{*reference};
  // Rounding x and w to bfloat16 (8 significant bits, unit roundoff 2^-9) moves each
  // product by at most 2^-8 of its size (+ second order), so the sum moves by at most
  // 2^-7 * sum |x w| (a bound with room for the second-order terms), float32 rounding aside.
  Buffer in = on(x), out = on.zeros(m * n), in_reference = on_reference(x), out_reference = on_reference.zeros(m * n);
  be->linear(in.data(), m, k, w.data(), n, bias.data(), out.data(), false, Epilogue::Store);
  reference->linear(in_reference.data(), m, k, w.data(), n, bias.data(), out_reference.data(), false, Epilogue::Store);
  const std::vector<float> got = on.host(out), want = on_reference.host(out_reference);
  std::size_t bad = 0;
  double worst = 0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double magnitude = 0;
      for (std::int64_t p = 0; p < k; ++p) magnitude += std::abs(double(x[i * k + p]) * w[j * k + p]);
      const double diff = std::abs(got[i * n + j] - want[i * n + j]);
      worst = std::max(worst, diff / magnitude);
      bad += diff > magnitude / 128 + 1e-4 * (1 + std::abs(want[i * n + j]));
    }
  EXPECT_EQ(bad, 0u) << "bf16 linear: worst |diff| / sum|x w| = " << worst;
  EXPECT_GT(worst, 0.0) << "bf16 linear: the same as fp32, so not computed in bf16";
}

TEST_P(Conformance, AttentionCausalAndNotWithUnequalRows) {
  struct Case {
    std::int64_t n, heads, q_rows, kv_rows, hd;
    bool causal;
  };
  const Case cases[] = {{2, 3, 5, 5, 8, false},
                        {2, 3, 5, 5, 8, true},    // as in a block
                        {3, 2, 1, 7, 16, false},  // one query (the last block)
                        {1, 4, 9, 9, 8, true},
                        {2, 1, 3, 11, 4, false}};
  auto be = make();
  unsigned seed = 61;
  for (const Case& t : cases) {
    const std::int64_t width = t.heads * t.hd;
    compare(*be,
            {random_values(t.n * t.q_rows * width, seed++), random_values(t.n * t.kv_rows * width, seed++),
             random_values(t.n * t.kv_rows * width, seed++), std::vector<float>(t.n * t.q_rows * width)},
            "attention " + std::to_string(t.q_rows) + "x" + std::to_string(t.kv_rows) + (t.causal ? " causal" : ""),
            [&](Backend& b, std::vector<Buffer>& io) {
              b.attention(io[0].data(), io[1].data(), io[2].data(), io[3].data(), t.n, t.heads, t.q_rows, t.kv_rows,
                          t.hd, t.causal);
            });
  }
}

// The keys and values projected from x, then one query per sample: against the reference's
// projections and attention, with fp32 and fp16 weights, with and without biases, with a
// single key, and under bf16 (which it ignores: float32 throughout).
TEST_P(Conformance, SingleQueryAttentionIsProjectionsThenAttention) {
  struct Case {
    std::int64_t n, kv_rows, heads, hd;
    bool fp16, bias, bf16;
  };
  // The CPU backend folds the projections into the query from 32 keys on; below, it projects.
  const Case cases[] = {{1, 50, 4, 16, false, true, false},  // a pool's shape, small
                        {3, 40, 2, 8, false, true, false},   // several samples
                        {3, 7, 2, 8, false, true, false},    // short sequences
                        {2, 1, 3, 8, false, false, false},   // one key
                        {2, 34, 3, 11, false, true, false},  // widths of no 8 or 16 (the loops' tails)
                        {2, 33, 4, 8, true, true, false},    // checkpoint halves
                        {2, 9, 4, 8, true, false, false},    // halves, no biases, short
                        {2, 36, 2, 16, false, true, true},   // bf16 set
                        {1, 5, 2, 16, false, true, true}};   // bf16 set, short
  unsigned seed = 71;
  for (const Case& t : cases) {
    // A backend per case, as per model: it keeps prepared copies of weights by address, and
    // this case's weights may reuse the memory of the last one's.
    auto be = make();
    const std::int64_t width = t.heads * t.hd;
    // Weights scaled by 1/sqrt(width), as trained ones are, so the scores stay in softmax's range.
    std::vector<float> wk = random_values(width * width, seed++), wv = random_values(width * width, seed++);
    for (float& v : wk) v /= std::sqrt(static_cast<float>(width));
    for (float& v : wv) v /= std::sqrt(static_cast<float>(width));
    const std::vector<std::uint16_t> wk16 = random_halves(wk.size(), seed++, -3),
                                     wv16 = random_halves(wv.size(), seed++, -3);
    const auto bk = random_values(width, seed++), bv = random_values(width, seed++);
    using clip::runtime::Weights;
    const Weights k_weights = t.fp16 ? Weights(wk16.data()) : Weights(wk.data()),
                  v_weights = t.fp16 ? Weights(wv16.data()) : Weights(wv.data());
    be->set_bf16_linear(t.bf16);
    for (int round = 0; round < 3; ++round)  // first use, prepared (float32: copied), reused
      compare(*be,
              {random_values(t.n * width, seed), random_values(t.n * t.kv_rows * width, seed + 1),
               std::vector<float>(t.n * width)},
              "single-query attention n " + std::to_string(t.n) + " rows " + std::to_string(t.kv_rows) +
                  (t.fp16 ? " fp16" : "") + (t.bias ? " bias" : "") + (t.bf16 ? " bf16 set" : "") + " round " +
                  std::to_string(round),
              [&](Backend& b, std::vector<Buffer>& io) {
                b.single_query_attention(io[0].data(), io[1].data(), t.n, t.kv_rows, t.heads, t.hd, k_weights,
                                         t.bias ? bk.data() : nullptr, v_weights, t.bias ? bv.data() : nullptr,
                                         io[2].data());
              });
    seed += 2;
  }
}

// A sample's result does not depend on the others in its call: the features of an image
// are the same alone or in a batch (the CLI's JSON lines test relies on it too).
TEST_P(Conformance, SingleQueryAttentionOfASampleIsTheSameInAnyBatch) {
  const std::int64_t heads = 4, hd = 16, width = heads * hd, n = 3;
  const auto wk = random_values(width * width, 101), wv = random_values(width * width, 102),
             bk = random_values(width, 103), bv = random_values(width, 104);
  auto be = make();
  const On on{*be};
  for (std::int64_t rows : {40, 7}) {
    const auto q = random_values(n * width, 105), x = random_values(n * rows * width, 106);
    Buffer q_all = on(q), x_all = on(x), out_all = on.zeros(n * width);
    be->single_query_attention(q_all.data(), x_all.data(), n, rows, heads, hd, wk.data(), bk.data(), wv.data(),
                               bv.data(), out_all.data());
    const std::vector<float> together = on.host(out_all);
    for (std::int64_t b = 0; b < n; ++b) {
      Buffer q_one = on({q.begin() + b * width, q.begin() + (b + 1) * width}),
             x_one = on({x.begin() + b * rows * width, x.begin() + (b + 1) * rows * width}), out_one = on.zeros(width);
      be->single_query_attention(q_one.data(), x_one.data(), 1, rows, heads, hd, wk.data(), bk.data(), wv.data(),
                                 bv.data(), out_one.data());
      EXPECT_EQ(on.host(out_one), std::vector<float>(together.begin() + b * width, together.begin() + (b + 1) * width))
          << rows << " rows, sample " << b;
    }
  }
}

TEST_P(Conformance, Conv2dWinogradAndDirectEveryEpilogue) {
  struct Case {
    std::int64_t n, c, h, w, out_c, k, stride, pad;
    bool bias;
    Epilogue epilogue;
  };
  const Case cases[] = {
      {1, 3, 17, 17, 8, 3, 2, 1, false, Epilogue::Store},      // a ResNet stem
      {2, 16, 9, 9, 32, 3, 1, 1, true, Epilogue::ReLU},        // 3x3 stride 1: Winograd where oneDNN has it
      {1, 32, 8, 8, 16, 3, 1, 1, false, Epilogue::AddToReLU},  // a block's end, Winograd-shaped
      {1, 16, 8, 8, 16, 3, 1, 1, true, Epilogue::AddTo},
      {2, 16, 6, 6, 48, 1, 1, 0, true, Epilogue::AddTo},      // 1x1 with a residual
      {1, 12, 7, 7, 20, 1, 1, 0, false, Epilogue::ReLU},      // channels not a multiple of 16
      {1, 12, 7, 7, 20, 3, 1, 1, true, Epilogue::QuickGELU},  // 3x3 stride 1, not Winograd-shaped
      {1, 8, 9, 9, 8, 3, 1, 1, false, Epilogue::GELU},
      // Shapes of the rn50-tiny fixture model; 512 output channels are packed in blocks of
      // 48 with a padded tail, which oneDNN 3.7 reordered wrongly from oihw (onednn::packing_source).
      {1, 128, 4, 4, 128, 3, 1, 1, false, Epilogue::Store},
      {1, 128, 2, 2, 512, 1, 1, 0, false, Epilogue::Store},
      {1, 256, 2, 2, 512, 1, 1, 0, false, Epilogue::Store},
      {1, 3, 64, 64, 8, 3, 2, 1, false, Epilogue::Store},
  };
  unsigned seed = 1;
  for (const Case& t : cases) {
    // A backend per case: it knows weights by address, and a freed case's may be reused.
    auto be = make();
    const std::int64_t oh = (t.h + 2 * t.pad - t.k) / t.stride + 1, ow = (t.w + 2 * t.pad - t.k) / t.stride + 1;
    const auto x = random_values(t.n * t.h * t.w * t.c, seed++),
               weight = random_values(t.out_c * t.c * t.k * t.k, seed++), bias = random_values(t.out_c, seed++),
               previous = random_values(t.n * oh * ow * t.out_c, seed++);
    // Every pair of map layouts the channels allow: channels-last, from the images' NCHW,
    // into, out of and within blocks of 16 (where oneDNN has kernels for them and where it
    // has none and the backend reorders).
    std::vector<std::pair<Layout, Layout>> layouts{{Layout::NHWC, Layout::NHWC}};
    if (t.out_c % 16 == 0)
      layouts.insert(layouts.end(), {{Layout::NCHW, Layout::Blocked16}, {Layout::NHWC, Layout::Blocked16}});
    if (t.c % 16 == 0) layouts.push_back({Layout::Blocked16, Layout::NHWC});
    if (t.c % 16 == 0 && t.out_c % 16 == 0) layouts.push_back({Layout::Blocked16, Layout::Blocked16});
    for (const auto& layout : layouts)
      // Twice: the first call prepares the primitive and packs the weights, the second reuses them.
      for (int round = 0; round < 2; ++round) {
        const Layout in = layout.first, out = layout.second;  // not a structured binding: clang 14 cannot capture one
        compare(*be, {x, previous},
                "conv " + std::to_string(t.c) + "->" + std::to_string(t.out_c) + " k" + std::to_string(t.k) + " s" +
                    std::to_string(t.stride) + " epilogue " + std::to_string(static_cast<int>(t.epilogue)) +
                    " layouts " + std::to_string(static_cast<int>(in)) + "->" + std::to_string(static_cast<int>(out)) +
                    " round " + std::to_string(round),
                [&](Backend& b, std::vector<Buffer>& io) {
                  b.conv2d(io[0].data(), t.n, t.c, t.h, t.w, weight.data(), t.out_c, t.k, t.stride, t.pad,
                           t.bias ? bias.data() : nullptr, io[1].data(), t.epilogue, in, out);
                });
      }
  }
}

TEST_P(Conformance, NormsSoftmaxAndElementwise) {
  auto be = make();
  const std::int64_t rows = 6, d = 48, n = 2, c = 24, hw = 9;
  const auto gamma = random_values(d, 32), beta = random_values(d, 33);
  compare(*be, {random_values(rows * d, 31), std::vector<float>(rows * d)}, "layer_norm",
          [&](Backend& b, std::vector<Buffer>& io) {
            b.layer_norm(io[0].data(), rows, d, gamma.data(), beta.data(), io[1].data());
          });
  compare(*be, {random_values(rows * d, 34)}, "layer_norm in place", [&](Backend& b, std::vector<Buffer>& io) {
    b.layer_norm(io[0].data(), rows, d, gamma.data(), beta.data(), io[0].data());
  });
  for (bool causal : {false, true})
    compare(*be, {random_values(rows * 5, 35)}, causal ? "causal softmax" : "softmax",
            [&](Backend& b, std::vector<Buffer>& io) { b.softmax(io[0].data(), rows, 5, causal, 3); });
  compare(*be, {random_values(100000, 36)}, "relu",  // past the threaded loops' threshold
          [&](Backend& b, std::vector<Buffer>& io) { b.relu(io[0].data(), 100000); });
  compare(*be, {random_values(100000, 37), random_values(100000, 38)}, "add",
          [&](Backend& b, std::vector<Buffer>& io) { b.add(io[0].data(), io[1].data(), 100000); });
  std::vector<float> var = random_values(c, 40);
  for (float& v : var) v = v * v + 0.1f;
  const auto mean = random_values(c, 39), g = random_values(c, 41), bt = random_values(c, 42);
  compare(*be, {random_values(n * hw * c, 43)}, "batch_norm", [&](Backend& b, std::vector<Buffer>& io) {
    b.batch_norm(io[0].data(), n, c, hw, mean.data(), var.data(), g.data(), bt.data());
  });
  compare(*be, {random_values(n * 6 * 6 * c, 44), std::vector<float>(n * 3 * 3 * c)}, "avg_pool",
          [&](Backend& b, std::vector<Buffer>& io) { b.avg_pool(io[0].data(), n, c, 6, 6, 2, io[1].data()); });
  // The same on maps in blocks of 16 channels.
  const std::int64_t c2 = 32;
  const auto mean2 = random_values(c2, 45), g2 = random_values(c2, 46), bt2 = random_values(c2, 47);
  std::vector<float> var2 = random_values(c2, 48);
  for (float& v : var2) v = v * v + 0.1f;
  compare(*be, {random_values(n * hw * c2, 49)}, "batch_norm, blocks of 16", [&](Backend& b, std::vector<Buffer>& io) {
    b.batch_norm(io[0].data(), n, c2, hw, mean2.data(), var2.data(), g2.data(), bt2.data(), Layout::Blocked16);
  });
  compare(*be, {random_values(n * 6 * 6 * c2, 50), std::vector<float>(n * 3 * 3 * c2)}, "avg_pool, blocks of 16",
          [&](Backend& b, std::vector<Buffer>& io) {
            b.avg_pool(io[0].data(), n, c2, 6, 6, 2, io[1].data(), Layout::Blocked16);
          });
}

TEST_P(Conformance, DataMovement) {
  auto be = make();
  compare(*be, {random_values(2 * 3 * 25, 71), std::vector<float>(2 * 3 * 25)}, "NCHW to channels-last",
          [&](Backend& b, std::vector<Buffer>& io) {
            b.to_channels_last(io[0].data(), Layout::NCHW, 2, 3, 25, io[1].data());
          });
  compare(*be, {random_values(2 * 32 * 25, 79), std::vector<float>(2 * 32 * 25)}, "blocks of 16 to channels-last",
          [&](Backend& b, std::vector<Buffer>& io) {
            b.to_channels_last(io[0].data(), Layout::Blocked16, 2, 32, 25, io[1].data());
          });
  {
    // The layouts' definitions themselves (the comparison above holds the backends to the
    // reference, which holds them to nothing): value 1000 * channel + position, [b, c/16, p, 16].
    const std::int64_t n = 2, c = 32, hw = 5;
    std::vector<float> blocked(static_cast<std::size_t>(n * c * hw));
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t ch = 0; ch < c; ++ch)
        for (std::int64_t p = 0; p < hw; ++p)
          blocked[static_cast<std::size_t>(((b * 2 + ch / 16) * hw + p) * 16 + ch % 16)] =
              static_cast<float>(b * 100000 + ch * 1000 + p);
    const On on{*be};
    const Buffer from = on(blocked), to = on.zeros(n * c * hw);
    be->to_channels_last(from.data(), Layout::Blocked16, n, c, hw, to.data());
    const std::vector<float> got = on.host(to);
    std::size_t bad = 0;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t p = 0; p < hw; ++p)
        for (std::int64_t ch = 0; ch < c; ++ch)
          if (got[static_cast<std::size_t>((b * hw + p) * c + ch)] != static_cast<float>(b * 100000 + ch * 1000 + p))
            ++bad;
    EXPECT_EQ(bad, 0u) << "blocks of 16 to channels-last";
  }
  compare(*be, {random_values(2 * 3 * 12 * 12, 72), std::vector<float>(2 * 16 * 3 * 3 * 3)}, "patchify",
          [&](Backend& b, std::vector<Buffer>& io) { b.patchify(io[0].data(), 2, 3, 12, 3, io[1].data()); });
  const auto cls = random_values(8, 73), pos = random_values(5 * 8, 74);
  for (bool mean : {false, true})
    compare(*be, {random_values(3 * 4 * 8, 75), std::vector<float>(3 * 5 * 8)},
            mean ? "prepend the mean" : "prepend the class token", [&](Backend& b, std::vector<Buffer>& io) {
              b.prepend_and_add_positions(io[0].data(), 3, 4, 8, mean ? nullptr : cls.data(), pos.data(), io[1].data());
            });
  compare(*be, {random_values(6 * 8, 76), std::vector<float>(4 * 8)}, "gather_rows",
          [&](Backend& b, std::vector<Buffer>& io) {
            b.gather_rows(io[0].data(), 8, {5, 0, 2, 2}, io[1].data());
          });
  const auto table = random_values(10 * 8, 77), positions = random_values(6 * 8, 78);
  compare(*be, {std::vector<float>(5 * 8)}, "embed_tokens", [&](Backend& b, std::vector<Buffer>& io) {
    b.embed_tokens(table.data(), positions.data(), 8, {9, 0, 3, 3, 7}, {0, 1, 2, 0, 5}, io[0].data());
  });
}

// Weights are known by address: after they change in place, clear_weight_cache must make
// the backend read them again (Model::set_parameter relies on it).
TEST_P(Conformance, PreparedWeightsForgottenAfterAChange) {
  const std::int64_t m = 4, k = 16, n = 16;
  auto be = make();
  const auto x = random_values(m * k, 81);
  std::vector<float> w = random_values(n * k, 82), weight = random_values(16 * 16 * 9, 83);
  std::vector<float> attention = random_values(2 * k * k, 87);  // keys' and values' weights, float32
  for (float& v : attention) v /= 4;                            // scores in softmax's range
  const auto image = random_values(8 * 8 * 16, 84);
  std::vector<std::uint16_t> halves = random_halves(2 * k * k, 85, -2);
  const auto sequence = random_values(40 * k, 86);  // 40 rows: the folded single-query attention
  const auto run = [&](const std::string& what) {
    for (int round = 0; round < 3; ++round) {  // plain, packed (or copied), reused
      compare(*be, {x, std::vector<float>(m * n)}, what + " linear", [&](Backend& b, std::vector<Buffer>& io) {
        b.linear(io[0].data(), m, k, w.data(), n, nullptr, io[1].data(), false, Epilogue::Store);
      });
      compare(*be, {image, std::vector<float>(8 * 8 * 16)}, what + " conv", [&](Backend& b, std::vector<Buffer>& io) {
        b.conv2d(io[0].data(), 1, 16, 8, 8, weight.data(), 16, 3, 1, 1, nullptr, io[1].data(), Epilogue::Store);
      });
      compare(*be, {sequence, std::vector<float>(k)}, what + " single-query attention fp16",
              [&](Backend& b, std::vector<Buffer>& io) {
                b.single_query_attention(io[0].data(), io[0].data(), 1, 40, 2, k / 2, halves.data(), nullptr,
                                         halves.data() + k * k, nullptr, io[1].data());
              });
      compare(*be, {sequence, std::vector<float>(k)}, what + " single-query attention fp32",
              [&](Backend& b, std::vector<Buffer>& io) {
                b.single_query_attention(io[0].data(), io[0].data(), 1, 40, 2, k / 2, attention.data(), nullptr,
                                         attention.data() + k * k, nullptr, io[1].data());
              });
    }
  };
  run("before");
  for (float& v : w) v = -2 * v;
  for (float& v : weight) v = -2 * v;
  for (std::uint16_t& h : halves) h ^= 0x8000;  // negated
  for (float& v : attention) v = -2 * v;
  be->clear_weight_cache();
  run("after the change");
}

TEST_P(Conformance, OneAndTwoThreadsAgree) {
  const std::int64_t m = 64, k = 96, n = 80;
  const auto x = random_values(m * k, 91), w = random_values(n * k, 92), bias = random_values(n, 93);
  for (int threads : {1, 2}) {
    auto be = make();
    be->set_num_threads(threads);
    EXPECT_EQ(be->num_threads(), threads);
    compare(*be, {x, std::vector<float>(m * n)}, std::to_string(threads) + " threads",
            [&](Backend& b, std::vector<Buffer>& io) {
              b.linear(io[0].data(), m, k, w.data(), n, bias.data(), io[1].data(), false, Epilogue::GELU);
            });
  }
  EXPECT_THROW(make()->set_num_threads(0), clip::Error);
}

std::vector<std::string> tested_backends() {
  std::vector<std::string> out;
  for (const std::string& name : clip::runtime::backend_names())
    if (name != "reference") out.push_back(name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, testing::ValuesIn(tested_backends()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(Backends, DevicesAreNamedOrAClearError) {
  EXPECT_EQ(clip::runtime::make_backend("cpu")->name(), "cpu");
  EXPECT_EQ(clip::runtime::make_backend("reference")->name(), "reference");
  for (const char* device : {"cuda", "cuda:0", "tpu", ""}) {
    try {
      clip::runtime::make_backend(device);
      ADD_FAILURE() << device << " accepted";
    } catch (const clip::Error& e) {
      EXPECT_NE(std::string(e.what()).find("devices: cpu, reference"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
