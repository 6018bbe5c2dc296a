// The compute backend behind the model code: every step of the towers' forward pass is
// one of its operations. The contract (docs/ARCHITECTURE.md):
// - Activations live in Buffers the backend allocates. The model code passes their
//   addresses (with offsets) to the operations and reads results only through download;
//   it never reads or writes them itself, so a device with memory of its own (a GPU) fits
//   behind the same calls.
// - Parameters (weights, biases, norms, embeddings) are host memory that stays put while
//   the model lives; the backend may prepare a copy once per address (packing, upload) and
//   forgets those copies on clear_weight_cache.
// - Row indices (which rows to gather, token ids) are host data.
// Two backends: "cpu" (oneDNN, the fast one) and "reference" (plain loops, the yardstick
// the conformance tests hold every backend to).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace clip::runtime {

// A linear layer's weights as the model holds them: float32, or float16 straight from the
// checkpoint, converted only while the backend packs them (no float32 copy is kept). The
// address identifies the weights: the backend packs them once per address and shape.
struct Weights {
  const void* data;
  bool fp16 = false;
  Weights(const float* p) : data(p) {}  // NOLINT: float32 weights convert implicitly
  Weights(const std::uint16_t* p) : data(p), fp16(true) {}
  // The rows from `row` on of an [n, k] matrix (e.g. the key block of a fused projection).
  Weights from_row(std::int64_t row, std::int64_t k) const {
    return fp16 ? Weights(static_cast<const std::uint16_t*>(data) + row * k)
                : Weights(static_cast<const float*>(data) + row * k);
  }
};

// Activation memory a backend owns: float32 values at a backend address. data() is for
// passing to that backend's operations, not for reading.
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::shared_ptr<void> storage, float* data, std::int64_t size)
      : storage_(std::move(storage)), data_(data), size_(size) {}
  float* data() const { return data_; }
  std::int64_t size() const { return size_; }

 private:
  std::shared_ptr<void> storage_;
  float* data_ = nullptr;
  std::int64_t size_ = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // `count` float32 values, uninitialised.
  virtual Buffer allocate(std::int64_t count) = 0;
  // Host -> backend and backend -> host copies of `count` values.
  virtual void upload(const float* host, std::int64_t count, float* y) = 0;
  virtual void download(const float* x, std::int64_t count, float* host) = 0;

  virtual void set_num_threads(int threads) = 0;
  // Forget weights prepared for the backend (call when weights change).
  virtual void clear_weight_cache() = 0;
  virtual int num_threads() const = 0;
  // bf16: linear layers multiply in bfloat16 (weights packed once in bf16, activations
  // rounded on the way in), accumulating and returning float32. Everything else stays fp32.
  virtual void set_bf16_linear(bool bf16) = 0;

  // What a linear layer or convolution does with its result, fused into it: store it,
  // apply an activation, add it to what the output holds (a residual connection), or add
  // then ReLU (a ResNet block's end).
  enum class Epilogue { Store, QuickGELU, GELU, ReLU, AddTo, AddToReLU };

  // y[m, n] = sum_k x[m, k] * w(k, n) + bias[n], where w is stored [n, k] (a PyTorch Linear
  // weight) or, with `w_is_kn`, [k, n] (a projection matrix). bias may be null. The
  // epilogue applies an activation, or adds the result to y (a residual connection).
  virtual void linear(const float* x, std::int64_t m, std::int64_t k, Weights w, std::int64_t n, const float* bias,
                      float* y, bool w_is_kn = false, Epilogue epilogue = Epilogue::Store) = 0;
  // Several linear layers over the same input (attention's query, key and value
  // projections): the same as one call each, with the input prepared once (bf16).
  struct Projection {
    Weights w;
    std::int64_t n;
    const float* bias;
    float* y;
  };
  virtual void linear(const float* x, std::int64_t m, std::int64_t k, const std::vector<Projection>& projections) = 0;
  // Multi-head attention, softmax(q k^T / sqrt(head_dim)) v for each of `n` samples and
  // `heads` heads. Rows of heads * head_dim values, the heads side by side, the samples one
  // after the other: q is [n, q_rows, heads * head_dim], k and v [n, kv_rows, ...], the
  // output like q. With `causal`, query i only sees keys <= i.
  virtual void attention(const float* q, const float* k, const float* v, float* out, std::int64_t n, std::int64_t heads,
                         std::int64_t q_rows, std::int64_t kv_rows, std::int64_t head_dim, bool causal) = 0;
  // One query per sample against keys and values projected from the sample's rows: the
  // same as k = linear(x, wk, bk), v = linear(x, wv, bv), then attention(q, k, v, out, n,
  // heads, 1, kv_rows, head_dim, false). q and out are [n, heads * head_dim], x is
  // [n, kv_rows, heads * head_dim], wk and wv [heads * head_dim, heads * head_dim] PyTorch
  // Linear weights. (AttentionPool2d's mean token; a transformer's last block, whose
  // read-out rows alone go on.) Always float32, also under set_bf16_linear.
  virtual void single_query_attention(const float* q, const float* x, std::int64_t n, std::int64_t kv_rows,
                                      std::int64_t heads, std::int64_t head_dim, Weights wk, const float* bk,
                                      Weights wv, const float* bv, float* out) = 0;
  // How feature maps [n, c, h, w] lie in a Buffer: as PyTorch holds them (NCHW: images),
  // channels-last (NHWC), or in blocks of 16 channels ([n, c / 16, h, w, 16], c a multiple
  // of 16: Blocked16), the layout oneDNN 2's Winograd convolutions read and write. Blocked16
  // and NHWC hold the same number of values, so add and relu take either.
  enum class Layout { NCHW, NHWC, Blocked16 };
  // The layout this backend keeps a ResNet's maps of `channels` in (the model code asks).
  virtual Layout map_layout(std::int64_t channels) const = 0;

  // Convolution, square kernel, no dilation, x in layout `in`, y in `out` (Blocked16 only
  // for a multiple of 16 channels); weight [out, in, kh, kw] (PyTorch's layout); bias may
  // be null.
  virtual void conv2d(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                      const float* weight, std::int64_t out_c, std::int64_t kernel, std::int64_t stride,
                      std::int64_t pad, const float* bias, float* y, Epilogue epilogue = Epilogue::Store,
                      Layout in = Layout::NHWC, Layout out = Layout::NHWC) = 0;

  // Row-wise LayerNorm over the last `d` values (eps 1e-5), in place allowed.
  virtual void layer_norm(const float* x, std::int64_t rows, std::int64_t d, const float* gamma, const float* beta,
                          float* y) = 0;
  // Row-wise softmax over `n` values; with `causal`, row i only sees columns <= i % rows_per_matrix.
  virtual void softmax(float* x, std::int64_t rows, std::int64_t n, bool causal, std::int64_t rows_per_matrix) = 0;
  // x = max(x, 0). (The transformers' GELU runs fused into linear, see Epilogue.)
  virtual void relu(float* x, std::int64_t count) = 0;
  // y = x + y
  virtual void add(const float* x, float* y, std::int64_t count) = 0;
  // Per channel of NHWC or Blocked16 maps: x = (x - mean) / sqrt(var + eps) * gamma + beta
  // (eps 1e-5).
  virtual void batch_norm(float* x, std::int64_t n, std::int64_t c, std::int64_t hw, const float* mean,
                          const float* var, const float* gamma, const float* beta, Layout layout = Layout::NHWC) = 0;
  // AvgPool2d(k) (stride k, no padding) on NHWC or Blocked16 maps, y in the same layout.
  virtual void avg_pool(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t k,
                        float* y, Layout layout = Layout::NHWC) = 0;

  // The data movement between the layers.
  // NCHW or Blocked16 -> NHWC: y[b, p, ch] = x's value of channel ch at position p < hw.
  virtual void to_channels_last(const float* x, Layout from, std::int64_t n, std::int64_t c, std::int64_t hw,
                                float* y) = 0;
  // A stride-p convolution's input as rows: images [n, c, r, r] -> [n * (r/p)^2, c * p * p],
  // patch (gy, gx) of image b in row (b * grid + gy) * grid + gx, each row in the weight's
  // (c, ky, kx) order.
  virtual void patchify(const float* images, std::int64_t n, std::int64_t c, std::int64_t r, std::int64_t p,
                        float* y) = 0;
  // A token sequence with its positions: x [n, rows, d] -> y [n, rows + 1, d] with
  // y[b, 0] = first + pos[0] (first: a parameter row, the class embedding; null: the mean of
  // x[b]'s rows, accumulated in double) and y[b, 1 + i] = x[b, i] + pos[1 + i].
  virtual void prepend_and_add_positions(const float* x, std::int64_t n, std::int64_t rows, std::int64_t d,
                                         const float* first, const float* pos, float* y) = 0;
  // y[i] = x[rows[i]] for rows of d values.
  virtual void gather_rows(const float* x, std::int64_t d, const std::vector<std::int64_t>& rows, float* y) = 0;
  // Token embedding plus position: y[i] = table[ids[i]] + pos[positions[i]] for rows of d
  // values (table and pos are parameters).
  virtual void embed_tokens(const float* table, const float* pos, std::int64_t d, const std::vector<std::int64_t>& ids,
                            const std::vector<std::int64_t>& positions, float* y) = 0;
};

// The backend for a model's `device`: "cpu" (oneDNN; threads default to the cores this
// process may use) or "reference" (plain loops, for tests). "cuda" and other names are a
// clip::Error saying what this build offers.
std::unique_ptr<Backend> make_backend(const std::string& device);
std::vector<std::string> backend_names();  // the devices make_backend accepts
std::unique_ptr<Backend> make_cpu_backend();
std::unique_ptr<Backend> make_reference_backend();

}  // namespace clip::runtime
