// CPU backend: oneDNN matmul and convolution (primitives created once per shape and
// cached), plain loops for the cheap element-wise work, OpenMP threads.
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "clip/error.h"
#include "core/half.h"
#include "core/memory.h"
#include "core/threads.h"
#include "runtime/backend.h"
#include "runtime/bf16_check.h"
#include "runtime/onednn_api.h"
#include "runtime/reference_backend.h"

namespace clip::runtime {
namespace {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;
using DT = memory::data_type;

// The two one-row products of single_query_attention (a query row through one head's key
// weights, the attended row through the value weights), as plain loops the compiler
// vectorises. oneDNN 2.6's batched one-row matmuls read RN50's 16 MB key weights at 19 GB/s
// (0.88 ms a call) and its value weights at 30 (0.53 ms); these loops read each weight row
// once, in order: 0.34-0.35 and 0.28-0.31 ms (timed in the call, medians of 20, 2 threads;
// the read bandwidth here is 55 GB/s). RN50 batch 1 took 0.4-0.8 ms less, 26.3 -> 25.5 ms
// (medians of 20 calls, old and new build alternating, 6 rounds, all faster); ViT-B/32
// (4.7 MB in its last block) within noise.

// out = scale * sum_r a[r] rows[r, :], rows [count, width] row-major; eight rows a pass
// (four: 0.42-0.44 ms for RN50's keys), so `out` is read and written once per eight.
void weighted_rows(const float* a, const float* rows, std::int64_t count, std::int64_t width, float scale, float* out) {
  std::fill(out, out + width, 0.0f);
  std::int64_t r = 0;
  for (; r + 8 <= count; r += 8) {
    float c[8];
    for (int k = 0; k < 8; ++k) c[k] = a[r + k] * scale;
    const float* block = rows + r * width;
    for (std::int64_t j = 0; j < width; ++j) {
      float sum = out[j];
      for (int k = 0; k < 8; ++k) sum += c[k] * block[k * width + j];
      out[j] = sum;
    }
  }
  for (; r < count; ++r)
    for (std::int64_t j = 0; j < width; ++j) out[j] += a[r] * scale * rows[r * width + j];
}

// sum_i a[i] b[i] in 16 independent lanes (a single running sum would not vectorise).
float dot(const float* a, const float* b, std::int64_t n) {
  float lanes[16] = {};
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) lanes[l] += a[i + l] * b[i + l];
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (const float lane : lanes) sum += lane;
  return sum;
}

// Per-thread working memory, grown as needed and reused, never zero-filled: allocating
// (and having the kernel clear) fresh memory on every call cost ~10% of a ViT image. One
// buffer per slot, as they can be in use at the same time.
enum class Slot { Scratchpad, Weights, Activations, AttentionScores };
template <Slot slot>
std::byte* thread_buffer(std::size_t bytes) {
  thread_local std::shared_ptr<std::byte> buffer;
  thread_local std::size_t size = 0;
  if (bytes > size) {
    size = bytes;
    buffer = core::allocate(size);
  }
  return buffer.get();
}

// Memory, uploads and the data movement between layers are the reference backend's (host
// memory, the same loops); the arithmetic is oneDNN's.
class CpuBackend final : public ReferenceBackend {
 public:
  // Threads default to the process's (core/threads.h).
  CpuBackend() : engine_(dnnl::engine::kind::cpu, 0) { threads_ = core::default_threads(); }

  std::string name() const override { return "cpu"; }
  void set_bf16_linear(bool bf16) override { bf16_ = bf16; }
  // bf16 where asked for and where it pays (runtime/bf16_check.h), else fp32.
  bool use_bf16() const { return bf16_ && bf16_pays(engine_); }

  // This call's threads: the model's ThreadScope (its count adapted to the load,
  // core::AdaptiveThreads), else this backend's own setting. Primitives are made per count:
  // oneDNN splits the work of a primitive for the threads it was made for.
  int threads() const { return core::loop_threads(threads_); }

  void linear(const float* x, std::int64_t m, std::int64_t k, Weights w, std::int64_t n, const float* bias, float* y,
              bool w_is_kn, Epilogue epilogue) override {
    const core::ThreadScope scope(threads());  // for the conversions to float32 and bf16
    run_linear(x, use_bf16() ? to_bf16(x, m * k) : nullptr, m, k, w, n, bias, y, w_is_kn, epilogue);
  }

  void linear(const float* x, std::int64_t m, std::int64_t k, const std::vector<Projection>& projections) override {
    const core::ThreadScope scope(threads());
    const std::uint16_t* x_bf16 = use_bf16() ? to_bf16(x, m * k) : nullptr;
    for (const Projection& p : projections) run_linear(x, x_bf16, m, k, p.w, p.n, p.bias, p.y, false, Epilogue::Store);
  }

  void attention(const float* q, const float* k, const float* v, float* out, std::int64_t n, std::int64_t heads,
                 std::int64_t q_rows, std::int64_t kv_rows, std::int64_t hd, bool causal) override {
    // Each head read and written where it lies, no copies: [n, rows, heads, hd] seen as
    // [n, heads, rows, hd] (k as [n, heads, hd, rows]). Dense rows let oneDNN use its brgemm
    // kernels (faster here than its gemm, which also costs ~30 ms of JIT on first use).
    const memory::desc q_d({n, heads, q_rows, hd}, DT::f32, Tag::acbd);
    const memory::desc kt_d({n, heads, hd, kv_rows}, DT::f32, Tag::adbc);
    const memory::desc s_d({n, heads, q_rows, kv_rows}, DT::f32, Tag::abcd);
    const memory::desc v_d({n, heads, kv_rows, hd}, DT::f32, Tag::acbd);
    const memory::desc o_d({n, heads, q_rows, hd}, DT::f32, Tag::acbd);
    const auto* p = &cached(attentions_, AttentionKey{n, heads, q_rows, kv_rows, hd, threads()}, [&] {
      const auto make = [&](const memory::desc& a, const memory::desc& b, const memory::desc& c, float scale) {
        dnnl::primitive_attr attr = user_scratchpad();
        if (scale != 1.0f) {
          dnnl::post_ops post;
          onednn::append_eltwise(post, dnnl::algorithm::eltwise_linear, scale, 0.0f);
          attr.set_post_ops(post);
        }
        const auto pd = onednn::matmul(engine_, a, b, memory::desc(), c, attr);
        return Prepared{dnnl::matmul(pd), pd.scratchpad_desc(), {}, {}, {}};
      };
      return std::make_pair(make(q_d, kt_d, s_d, 1.0f / std::sqrt(static_cast<float>(hd))), make(s_d, v_d, o_d, 1.0f));
    });
    float* scores = reinterpret_cast<float*>(
        thread_buffer<Slot::AttentionScores>(static_cast<std::size_t>(n * heads * q_rows * kv_rows) * sizeof(float)));
    execute(p->first,
            {{DNNL_ARG_SRC, mem(q_d, q)}, {DNNL_ARG_WEIGHTS, mem(kt_d, k)}, {DNNL_ARG_DST, mem(s_d, scores)}});
    softmax(scores, n * heads * q_rows, kv_rows, causal, q_rows);
    execute(p->second,
            {{DNNL_ARG_SRC, mem(s_d, scores)}, {DNNL_ARG_WEIGHTS, mem(v_d, v)}, {DNNL_ARG_DST, mem(o_d, out)}});
  }

  // The keys and values are never formed: with one query per sample, q_h . (W_h x_j + b_h)
  // = (q_h W_h) . x_j + q_h . b_h, and the last term, the same for every key, drops out of
  // the softmax; the weighted sum of the values is W_h (sum_j p_j x_j) + b_h. So each head's
  // query becomes a row over the input's width (q_h W_h), attends to the rows x_j
  // themselves, and the result goes through the value weights once: two one-row products
  // (the loops above), two small matrix products and a softmax instead of two projections
  // of every row. RN50's pool, this call alone (2 threads, medians of 15), with four
  // oneDNN products: 1.5 against 2.6 ms at batch 1, 11.6 against 19.0 at batch 8. One
  // sample at a time: with several in one product oneDNN's sums for a sample changed with
  // the batch size (the value product), and a sample's features must not depend on its
  // batch.
  void single_query_attention(const float* q, const float* x, std::int64_t n, std::int64_t kv_rows, std::int64_t heads,
                              std::int64_t hd, Weights wk, const float* bk, Weights wv, const float* bv,
                              float* out) override {
    const core::ThreadScope scope(threads());
    // Short sequences (text prompts) project their few rows faster than a sample's products
    // and softmax run: ViT-B/32's 3 demo prompts (5-7 rows each) took 6.19 ms folded against
    // 5.97 projected (medians of 30, old and new build alternating).
    if (kv_rows < kFoldFromRows) return project_then_attend(q, x, n, kv_rows, heads, hd, wk, bk, wv, bv, out);
    const std::int64_t w = heads * hd, t = kv_rows;
    const auto d = [](Dims dims, Dims strides) { return memory::desc(dims, DT::f32, strides); };
    // Per head h: g_h = q_h W_k,h (scaled as attention scales its scores), s_h =
    // softmax(g_h x^T), y_h = s_h x, out_h = W_v,h y_h + b_v,h; g and y as [heads, w].
    const memory::desc gs_d = d({1, heads, w}, {heads * w, w, 1}), xt_d = d({1, w, t}, {t * w, 1, w}),
                       s_d = d({1, heads, t}, {heads * t, t, 1}), x_d = d({1, t, w}, {t * w, w, 1});
    const auto* p = &cached(single_query_, AttentionKey{1, heads, 1, t, hd, threads()}, [&] {
      std::array<std::optional<Prepared>, 2> steps;
      const auto make = [&](const memory::desc& a, const memory::desc& b, const memory::desc& c) {
        const auto pd = onednn::matmul(engine_, a, b, memory::desc(), c, user_scratchpad());
        // oneDNN's reference loops would cost more than the projections they replace.
        if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return std::optional<Prepared>();
        return std::optional<Prepared>(Prepared{dnnl::matmul(pd), pd.scratchpad_desc(), {}, {}, {}});
      };
      steps[0] = make(gs_d, xt_d, s_d);
      steps[1] = make(s_d, x_d, gs_d);
      return steps;
    });
    if (!std::all_of(p->begin(), p->end(), [](const std::optional<Prepared>& s) { return s.has_value(); }))
      return project_then_attend(q, x, n, kv_rows, heads, hd, wk, bk, wv, bv, out);
    const float* k_weights = float32_copy(wk, w * w);
    const float* v_weights = float32_copy(wv, w * w);
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const Buffer g = allocate(heads * w);  // g, then y in its place
    float* scores = reinterpret_cast<float*>(
        thread_buffer<Slot::AttentionScores>(static_cast<std::size_t>(heads * t) * sizeof(float)));
    for (std::int64_t b = 0; b < n; ++b) {
      const float* xb = x + b * t * w;
      const float* qb = q + b * w;
      float* ob = out + b * w;
      float* gb = g.data();
#pragma omp parallel for num_threads(threads())
      for (std::int64_t h = 0; h < heads; ++h)
        weighted_rows(qb + h * hd, k_weights + h * hd * w, hd, w, scale, gb + h * w);
      execute(*(*p)[0],
              {{DNNL_ARG_SRC, mem(gs_d, gb)}, {DNNL_ARG_WEIGHTS, mem(xt_d, xb)}, {DNNL_ARG_DST, mem(s_d, scores)}});
      softmax(scores, heads, t, false, 1);
      execute(*(*p)[1],
              {{DNNL_ARG_SRC, mem(s_d, scores)}, {DNNL_ARG_WEIGHTS, mem(x_d, xb)}, {DNNL_ARG_DST, mem(gs_d, gb)}});
#pragma omp parallel for num_threads(threads())
      for (std::int64_t i = 0; i < w; ++i)  // out_h = W_v,h y_h + b_v,h, a row of W_v per output
        ob[i] = dot(v_weights + i * w, gb + (i / hd) * w, w) + (bv ? bv[i] : 0.0f);
    }
  }

  // single_query_attention by its definition, the projections in float32 also under bf16.
  void project_then_attend(const float* q, const float* x, std::int64_t n, std::int64_t kv_rows, std::int64_t heads,
                           std::int64_t hd, Weights wk, const float* bk, Weights wv, const float* bv, float* out) {
    const std::int64_t w = heads * hd, rows = n * kv_rows;
    const Buffer k = allocate(rows * w), v = allocate(rows * w);
    run_linear(x, nullptr, rows, w, wk, w, bk, k.data(), false, Epilogue::Store);
    run_linear(x, nullptr, rows, w, wv, w, bv, v.data(), false, Epilogue::Store);
    attention(q, k.data(), v.data(), out, n, heads, 1, kv_rows, hd, false);
  }

  // A ResNet's maps in blocks of 16 channels where oneDNN has a Winograd convolution for
  // this CPU (oneDNN 2 with AVX-512): its 3x3 convolutions then read and write them as they
  // are, and the 1x1 ones run as fast as on channels-last (10.70 against 10.69 ms for
  // RN50's at batch 1, 2 threads). Channels-last cost 36 reorders (two per Winograd
  // convolution) and a fresh buffer for each. With the pooling below, RN50 batch 1 went from
  // 29.8 to 27.4 ms (medians of 40 calls, old and new build alternating, 2 threads).
  // Elsewhere channels-last, which oneDNN's direct convolutions take as they are.
  Layout map_layout(std::int64_t channels) const override {
    return channels % 16 == 0 && winograd() ? Layout::Blocked16 : Layout::NHWC;
  }

  // The weights are reordered once into the layout the primitive prefers and kept.
  void conv2d(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, const float* weight,
              std::int64_t out_c, std::int64_t kernel, std::int64_t stride, std::int64_t pad, const float* bias,
              float* y, Epilogue epilogue, Layout in, Layout out) override {
    const std::int64_t oh = (h + 2 * pad - kernel) / stride + 1, ow = (w + 2 * pad - kernel) / stride + 1;
    const memory::desc src({n, c, h, w}, DT::f32, tag(in));
    const memory::desc wei({out_c, c, kernel, kernel}, DT::f32, Tag::oihw);
    const memory::desc dst({n, out_c, oh, ow}, DT::f32, tag(out));
    const memory::desc bia({out_c}, DT::f32, Tag::a);
    const ConvKey key{n, c, h, w, out_c, kernel, stride, pad, bias != nullptr, epilogue, in, out, threads()};
    const Prepared* prim = &cached(convs_, key, [&] {
      dnnl::primitive_attr attr = user_scratchpad();
      attr.set_post_ops(post_ops(epilogue));
      const auto make = [&](dnnl::algorithm algorithm, Tag src_layout, Tag dst_layout) {
        const memory::desc src_l({n, c, h, w}, DT::f32, src_layout), dst_l({n, out_c, oh, ow}, DT::f32, dst_layout),
            wei_any({out_c, c, kernel, kernel}, DT::f32, Tag::any);
        return onednn::convolution(engine_, algorithm, src_l, wei_any, bias ? bia : memory::desc(), dst_l, stride, pad,
                                   attr);
      };
      // 3x3, stride 1 (most of a ResNet's work): Winograd F(2x2, 3x3) does 2.25x fewer
      // multiplications; measured 1.6-1.9x faster here, with the reorders from and to
      // channels-last included. Elsewhere, or where oneDNN has no Winograd kernel for this
      // CPU (oneDNN 3 has none on x86), the direct convolution on the layouts asked for,
      // unless oneDNN has only its reference loops for them (channels-last to blocks: 51 ms
      // for the first 3x3 convolution of RN50, against 0.07 from NCHW); then on
      // channels-last, with reorders.
      const bool winograd = kernel == 3 && stride == 1 && c % 16 == 0 && out_c % 16 == 0;
      const auto pd = [&] {
        if (winograd) try {
            return make(dnnl::algorithm::convolution_winograd, Tag::nChw16c, Tag::nChw16c);
          } catch (const dnnl::error&) {
          }
        try {
          auto direct = make(dnnl::algorithm::convolution_direct, tag(in), tag(out));
          if (std::string(direct.impl_info_str()).rfind("ref", 0) != 0) return direct;
        } catch (const dnnl::error&) {
        }
        return make(dnnl::algorithm::convolution_direct, Tag::nhwc, Tag::nhwc);
      }();
      return Prepared{dnnl::convolution_forward(pd), pd.scratchpad_desc(), pd.src_desc(), pd.weights_desc(),
                      pd.dst_desc()};
    });
    // One packed copy for every thread count, unless a count's primitive wants another layout.
    ConvKey any_threads = key;
    any_threads.threads = 0;
    memory packed_weights = cached(packed_weights_, std::make_pair(weight, any_threads), [&] {
                              return pack(mem(wei, weight), prim->weights);
                            }).mem;
    if (packed_weights.get_desc() != prim->weights)
      packed_weights = cached(packed_weights_, std::make_pair(weight, key), [&] {
                         return pack(mem(wei, weight), prim->weights);
                       }).mem;
    const bool plain_src = prim->src == src, plain_dst = prim->dst == dst;
    memory src_mem = mem(src, x), dst_mem = mem(dst, y);
    if (!plain_src) {
      memory reordered(prim->src, engine_);
      reorder(src_mem, reordered);
      src_mem = reordered;
    }
    memory result = plain_dst ? dst_mem : memory(prim->dst, engine_);
    if (!plain_dst && (epilogue == Epilogue::AddTo || epilogue == Epilogue::AddToReLU)) reorder(dst_mem, result);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, packed_weights}, {DNNL_ARG_DST, result}};
    if (bias) args.emplace(DNNL_ARG_BIAS, mem(bia, bias));
    execute(*prim, args);
    if (!plain_dst) reorder(result, dst_mem);
  }

  void clear_weight_cache() override {
    std::lock_guard lock(mutex_);
    packed_weights_.clear();
    packed_matmul_weights_.clear();
    float32_copies_.clear();
    used_once_.clear();
  }

  void layer_norm(const float* x, std::int64_t rows, std::int64_t d, const float* gamma, const float* beta,
                  float* y) override {
    const memory::desc data({rows, d}, DT::f32, Tag::ab), param({d}, DT::f32, Tag::a);
    const Prepared& p = cached(layer_norms_, std::make_tuple(rows, d, threads()), [&] {
      const auto pd = onednn::layer_norm(engine_, data, 1e-5f, user_scratchpad());
      return Prepared{dnnl::layer_normalization_forward(pd), pd.scratchpad_desc(), {}, {}, {}};
    });
    execute(p, {{DNNL_ARG_SRC, mem(data, x)},
                {DNNL_ARG_DST, mem(data, y)},
                {DNNL_ARG_SCALE, mem(param, gamma)},
                {DNNL_ARG_SHIFT, mem(param, beta)}});
  }
  // oneDNN's vectorised softmax (a scalar exp per score cost ~0.7 ms of a ViT-B/32 image);
  // the causal mask first sets the hidden scores to -inf, which it turns into zeros.
  void softmax(float* x, std::int64_t rows, std::int64_t n, bool causal, std::int64_t rows_per_matrix) override {
    if (causal) {
#pragma omp parallel for num_threads(threads()) if (rows > 64)
      for (std::int64_t r = 0; r < rows; ++r)
        std::fill(x + r * n + std::min(n, r % rows_per_matrix + 1), x + (r + 1) * n,
                  -std::numeric_limits<float>::infinity());
    }
    const memory::desc data({rows, n}, DT::f32, Tag::ab);
    const Prepared& p = cached(softmaxes_, std::make_tuple(rows, n, threads()), [&] {
      const auto pd = onednn::softmax(engine_, data, 1, user_scratchpad());
      return Prepared{dnnl::softmax_forward(pd), pd.scratchpad_desc(), {}, {}, {}};
    });
    execute(p, {{DNNL_ARG_SRC, mem(data, x)}, {DNNL_ARG_DST, mem(data, x)}});
  }

  void relu(float* x, std::int64_t count) override {
#pragma omp parallel for num_threads(threads()) if (count > 65536)
    for (std::int64_t i = 0; i < count; ++i) x[i] = x[i] > 0 ? x[i] : 0;
  }

  void add(const float* x, float* y, std::int64_t count) override {
#pragma omp parallel for num_threads(threads()) if (count > 65536)
    for (std::int64_t i = 0; i < count; ++i) y[i] += x[i];
  }

  void batch_norm(float* x, std::int64_t n, std::int64_t c, std::int64_t hw, const float* mean, const float* var,
                  const float* gamma, const float* beta, Layout layout) override {
    if (layout != Layout::NHWC && layout != Layout::Blocked16)
      return ReferenceBackend::batch_norm(x, n, c, hw, mean, var, gamma, beta, layout);
    std::vector<float> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
    for (std::int64_t ch = 0; ch < c; ++ch) {
      scale[ch] = gamma[ch] / std::sqrt(var[ch] + 1e-5f);
      shift[ch] = beta[ch] - mean[ch] * scale[ch];
    }
    // Runs of `run` channels: all of them at each position (NHWC), or one block of 16 at
    // each position of the block's plane (Blocked16).
    const std::int64_t run = layout == Layout::NHWC ? c : 16, blocks = c / run;
#pragma omp parallel for num_threads(threads()) if (n * hw > 64)
    for (std::int64_t p = 0; p < n * blocks * hw; ++p) {
      const std::int64_t first = (p / hw) % blocks * run;
      for (std::int64_t ch = 0; ch < run; ++ch)
        x[p * run + ch] = x[p * run + ch] * scale[first + ch] + shift[first + ch];
    }
  }

  // oneDNN's pooling, in either layout: a loop of ours over blocks of 16 channels took ~1 ms
  // of an RN50 image (perf), oneDNN's seven pools take 0.35 ms (DNNL_VERBOSE=1).
  void avg_pool(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t k,
                float* y, Layout layout) override {
    const memory::desc src({n, c, h, w}, DT::f32, tag(layout)), dst({n, c, h / k, w / k}, DT::f32, tag(layout));
    const Prepared& p = cached(pools_, std::make_tuple(n, c, h, w, k, layout, threads()), [&] {
      const auto pd = onednn::avg_pool(engine_, src, dst, k, user_scratchpad());
      return Prepared{dnnl::pooling_forward(pd), pd.scratchpad_desc(), {}, {}, {}};
    });
    execute(p, {{DNNL_ARG_SRC, mem(src, x)}, {DNNL_ARG_DST, mem(dst, y)}});
  }

 private:
  struct MatmulKey {
    std::int64_t m, k, n;
    bool kn, bias;
    Epilogue epilogue;
    bool bf16 = false;
    bool plain_weights = false;  // the weights as stored, not packed
    int threads = 1;
    bool operator<(const MatmulKey& o) const {
      return std::tie(m, k, n, kn, bias, epilogue, bf16, plain_weights, threads) <
             std::tie(o.m, o.k, o.n, o.kn, o.bias, o.epilogue, o.bf16, o.plain_weights, o.threads);
    }
  };

  static constexpr std::int64_t kFoldFromRows = 32;  // single_query_attention folds from this many keys

  struct AttentionKey {
    std::int64_t n, heads, q_rows, kv_rows, hd;
    int threads;
    auto tie() const { return std::tie(n, heads, q_rows, kv_rows, hd, threads); }
    bool operator<(const AttentionKey& o) const { return tie() < o.tie(); }
  };

  // The weights as float32: fp16 ones converted into this thread's buffer (valid until
  // its next call), float32 ones as they are.
  static const float* float32_weights(Weights w, std::int64_t count) {
    if (!w.fp16) return static_cast<const float*>(w.data);
    float* out = reinterpret_cast<float*>(thread_buffer<Slot::Weights>(count * sizeof(float)));
    core::half_to_float(static_cast<const std::uint16_t*>(w.data), out, count);
    return out;
  }

  // The weights as float32 for as long as the model lives (cleared with the other prepared
  // weights): fp16 ones converted once and kept; float32 ones as they are on their first use
  // (a one-image process never copies), and from their second use a copy in lasting memory
  // (huge pages, core::allocate_lasting), like the packed weights. These are the only large
  // weights a call read from the model's own 4 KB pages: RN50's attention pool (32 MB) and
  // the last block's keys and values (4.7 MB in ViT-B/32), and they made the first call of
  // a round in bench/compare slower. Old and new build side by side in it, their order
  // alternating, medians of 5-7 rounds, the first call of a round: RN50 batch 1 38.7 -> 33.3,
  // 37.1 -> 31.6 and 31.2 -> 30.8 ms quiet (in the last run the old build paid nothing
  // either), 71.9 -> 64.1 beside a busy neighbour; ViT-B/32 batch 1 33.4 -> 29.8, 34.7 ->
  // 31.7, 32.2 -> 30.5 and 74.4 -> 66.5. Repeated calls within noise. Memory: RN50 from a
  // float32 checkpoint keeps 32 MB more (packed copies already double every other weight;
  // float16 checkpoints had these float32 copies before).
  const float* float32_copy(Weights w, std::int64_t count) {
    std::lock_guard lock(mutex_);
    if (const auto it = float32_copies_.find(w.data); it != float32_copies_.end()) return it->second.get();
    if (!w.fp16 && used_once_.insert({w.data, false}).second) return static_cast<const float*>(w.data);
    const auto storage = core::allocate_lasting(static_cast<std::size_t>(count) * sizeof(float));
    std::shared_ptr<float> copy(storage, reinterpret_cast<float*>(storage.get()));
    if (w.fp16)
      core::half_to_float(static_cast<const std::uint16_t*>(w.data), copy.get(), count);
    else
      std::memcpy(copy.get(), w.data, static_cast<std::size_t>(count) * sizeof(float));
    return float32_copies_.emplace(w.data, std::move(copy)).first->second.get();
  }

  // x_bf16: the input already rounded to bfloat16 when the matmul is to run in bf16, else null.
  void run_linear(const float* x, const std::uint16_t* x_bf16, std::int64_t m, std::int64_t k, Weights w,
                  std::int64_t n, const float* bias, float* y, bool w_is_kn, Epilogue epilogue) {
    // weights as logical [k, n]: PyTorch's [n, k] storage is the transposed strides.
    const bool bf16 = x_bf16 != nullptr;
    const DT type = bf16 ? DT::bf16 : DT::f32;
    const memory::desc src({m, k}, type, Tag::ab);
    const memory::desc wei({k, n}, DT::f32, w_is_kn ? Dims{n, 1} : Dims{1, k});
    const memory::desc dst({m, n}, DT::f32, Tag::ab);
    const memory::desc bia({1, n}, DT::f32, Tag::ab);
    // Weights in the layout (and type) the primitive prefers, packed once per weights and
    // layout, from their second use on. Other row counts (m) get the same layout as a rule
    // and share the copy, so memory does not grow with the variety of inputs. The first use
    // (fp32) runs from the plain layout: packing costs more than the multiplication it
    // speeds up, so a process that embeds one image (a cold start) never packs.
    const MatmulKey key{m, k, n, w_is_kn, bias != nullptr, epilogue, bf16, false, threads()};
    const std::pair<const void*, bool> weights_id{w.data, w_is_kn};
    bool first_use = false;
    {
      std::lock_guard lock(mutex_);
      if (!bf16 && !packed_matmul_weights_.count(weights_id)) first_use = used_once_.insert(weights_id).second;
    }
    if (first_use) {
      MatmulKey plain = key;
      plain.plain_weights = true;
      auto& p = matmul_primitive(plain, src, wei, bias ? bia : memory::desc(), dst);
      run(p,
          {{DNNL_ARG_SRC, mem(src, x)},
           {DNNL_ARG_WEIGHTS, mem(wei, float32_weights(w, k * n))},
           {DNNL_ARG_DST, mem(dst, y)}},
          bias ? std::optional<memory>(mem(bia, bias)) : std::nullopt);
      return;
    }
    auto& p = matmul_primitive(key, src, memory::desc({k, n}, type, Tag::any), bias ? bia : memory::desc(), dst);
    memory packed;
    {
      std::lock_guard lock(mutex_);
      std::vector<Packed>& copies = packed_matmul_weights_[weights_id];
      for (const Packed& copy : copies)
        if (copy.mem.get_desc() == p.weights) packed = copy.mem;
      if (!packed) {
        copies.push_back(pack(mem(wei, float32_weights(w, k * n)), p.weights));
        packed = copies.back().mem;
      }
    }
    const memory src_mem = bf16 ? memory(src, engine_, const_cast<std::uint16_t*>(x_bf16)) : mem(src, x);
    run(p, {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, packed}, {DNNL_ARG_DST, mem(dst, y)}},
        bias ? std::optional<memory>(mem(bia, bias)) : std::nullopt);
  }

  // The activations of a bf16 matmul, into this thread's buffer (valid until its next call).
  const std::uint16_t* to_bf16(const float* x, std::int64_t count) const {
    auto* out = reinterpret_cast<std::uint16_t*>(thread_buffer<Slot::Activations>(count * sizeof(std::uint16_t)));
    core::float_to_bfloat16(x, out, count);
    return out;
  }

  struct ConvKey {
    std::int64_t n, c, h, w, out_c, kernel, stride, pad;
    bool bias;
    Epilogue epilogue;
    Layout in, out;
    int threads;
    bool operator<(const ConvKey& o) const {
      return std::tie(n, c, h, w, out_c, kernel, stride, pad, bias, epilogue, in, out, threads) <
             std::tie(o.n, o.c, o.h, o.w, o.out_c, o.kernel, o.stride, o.pad, o.bias, o.epilogue, o.in, o.out,
                      o.threads);
    }
  };

  static Tag tag(Layout layout) {
    switch (layout) {
      case Layout::NCHW: return Tag::nchw;
      case Layout::NHWC: return Tag::nhwc;
      case Layout::Blocked16: return Tag::nChw16c;
    }
    return Tag::nhwc;
  }

  // Whether oneDNN has a Winograd convolution for this CPU (asked once, for a ResNet shape).
  bool winograd() const {
    static const bool available = [this] {
      try {
        const memory::desc maps({1, 64, 56, 56}, DT::f32, Tag::nChw16c), wei({64, 64, 3, 3}, DT::f32, Tag::any);
        onednn::convolution(engine_, dnnl::algorithm::convolution_winograd, maps, wei, memory::desc(), maps, 1, 1,
                            dnnl::primitive_attr());
        return true;
      } catch (const dnnl::error&) {
        return false;
      }
    }();
    return available;
  }

  // A primitive with the scratchpad it needs. The scratchpad is passed at each execution
  // (user mode): oneDNN's own shared scratchpad would make concurrent calls unsafe.
  struct Prepared {
    dnnl::primitive primitive;
    memory::desc scratchpad;
    memory::desc src, weights, dst;  // the layouts the primitive chose
  };

  static dnnl::post_ops post_ops(Epilogue epilogue) {
    dnnl::post_ops post;
    switch (epilogue) {
      case Epilogue::Store: break;
      case Epilogue::QuickGELU: onednn::append_eltwise(post, dnnl::algorithm::eltwise_swish, 1.702f, 0.0f); break;
      case Epilogue::GELU: onednn::append_eltwise(post, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f); break;
      case Epilogue::ReLU: onednn::append_eltwise(post, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f); break;
      case Epilogue::AddTo: post.append_sum(1.0f); break;
      case Epilogue::AddToReLU:
        post.append_sum(1.0f);
        onednn::append_eltwise(post, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        break;
    }
    return post;
  }

  // Weights reordered into a primitive's layout (and type), in storage we own; through an
  // intermediate copy where oneDNN needs one (onednn::packing_source).
  struct Packed {
    memory mem;
    std::shared_ptr<std::byte> storage;
  };
  Packed pack(const memory& from, const memory::desc& layout) {
    Packed p{memory(), core::allocate_lasting(layout.get_size())};
    p.mem = memory(layout, engine_, p.storage.get());
    const memory::desc staging = onednn::packing_source(from.get_desc());
    if (staging == from.get_desc()) {
      reorder(from, p.mem);
    } else {
      const memory staged(staging, engine_);
      reorder(from, staged);
      reorder(staged, p.mem);
    }
    return p;
  }

  void reorder(const memory& from, const memory& to) {
    omp_set_num_threads(threads());
    dnnl::stream stream(engine_);
    dnnl::reorder(from, to).execute(stream, const_cast<memory&>(from), const_cast<memory&>(to));
    stream.wait();
  }

  Prepared& matmul_primitive(const MatmulKey& key, const memory::desc& src, const memory::desc& wei,
                             const memory::desc& bia, const memory::desc& dst) {
    return cached(matmuls_, key, [&] {
      dnnl::primitive_attr attr = user_scratchpad();
      attr.set_post_ops(post_ops(key.epilogue));
      const dnnl::matmul::primitive_desc pd = [&] {
        try {
          return onednn::matmul(engine_, src, wei, bia, dst, attr);
        } catch (const dnnl::error& e) {
          if (key.bf16)
            throw Error(
                "precision bf16 is not available on this CPU (oneDNN needs AVX-512 for bfloat16 matmuls); "
                "use fp32");
          throw Error(std::string("oneDNN cannot run this matrix product: ") + e.what());
        }
      }();
      return Prepared{dnnl::matmul(pd), pd.scratchpad_desc(), pd.src_desc(), pd.weights_desc(), pd.dst_desc()};
    });
  }

  // The entry for `key`, made by `make` the first time (under the lock; std::map never
  // moves its elements, so the reference stays valid after it).
  template <class Key, class Value, class Make>
  Value& cached(std::map<Key, Value>& cache, const Key& key, Make make) {
    std::lock_guard lock(mutex_);
    auto it = cache.find(key);
    if (it == cache.end()) {
      omp_set_num_threads(threads());  // oneDNN plans a primitive's work for the threads it sees
      it = cache.emplace(key, make()).first;
    }
    return it->second;
  }

  // Every primitive takes its scratchpad at execution (see Prepared).
  static dnnl::primitive_attr user_scratchpad() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
  }

  memory mem(const memory::desc& d, const float* p) const { return memory(d, engine_, const_cast<float*>(p)); }

  void run(Prepared& p, std::unordered_map<int, memory> args, std::optional<memory> bias) {
    if (bias) args.emplace(DNNL_ARG_BIAS, *bias);
    execute(p, args);
  }

  // oneDNN parallelises with OpenMP on the calling thread; its team size follows
  // omp_set_num_threads, set here from this backend's setting.
  void execute(const Prepared& p, std::unordered_map<int, memory> args) {
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 memory(p.scratchpad, engine_, thread_buffer<Slot::Scratchpad>(p.scratchpad.get_size())));
    omp_set_num_threads(threads());
    dnnl::stream stream(engine_);
    p.primitive.execute(stream, args);
    stream.wait();
  }

  dnnl::engine engine_;
  std::atomic<bool> bf16_ = false;
  std::mutex mutex_;
  std::map<MatmulKey, Prepared> matmuls_;
  std::map<ConvKey, Prepared> convs_;
  std::map<AttentionKey, std::pair<Prepared, Prepared>> attentions_;             // scores, then context
  std::map<AttentionKey, std::array<std::optional<Prepared>, 2>> single_query_;  // empty: oneDNN's ref loops
  std::map<const void*, std::shared_ptr<float>> float32_copies_;                 // see float32_copy
  std::map<std::tuple<std::int64_t, std::int64_t, int>, Prepared> layer_norms_;  // by (rows, d, threads)
  std::map<std::tuple<std::int64_t, std::int64_t, int>, Prepared> softmaxes_;    // by (rows, n, threads)
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, Layout, int>, Prepared>
      pools_;  // by (n, c, h, w, k, layout, threads)
  // Convolution weights in the primitive's layout, by (weights, shape); cleared when a
  // model's parameters change.
  std::map<std::pair<const float*, ConvKey>, Packed> packed_weights_;
  // Linear weights by (address, stored [k, n]), one copy per layout the primitives chose.
  std::map<std::pair<const void*, bool>, std::vector<Packed>> packed_matmul_weights_;
  std::set<std::pair<const void*, bool>> used_once_;  // run once from their plain layout
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace clip::runtime
