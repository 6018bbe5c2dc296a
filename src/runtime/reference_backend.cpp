// The reference backend's plain loops.
#include "runtime/reference_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "clip/error.h"
#include "core/half.h"

namespace clip::runtime {

namespace {

// The epilogue applied to one value `v` of the layer's result, where `y` holds what the
// output held before.
float finish(double v, float y, Backend::Epilogue epilogue) {
  using E = Backend::Epilogue;
  switch (epilogue) {
    case E::Store: return static_cast<float>(v);
    case E::QuickGELU: return static_cast<float>(v / (1.0 + std::exp(-1.702 * v)));
    case E::GELU: return static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
    case E::ReLU: return static_cast<float>(std::max(v, 0.0));
    case E::AddTo: return static_cast<float>(v + y);
    case E::AddToReLU: return static_cast<float>(std::max(v + y, 0.0));
  }
  return 0;
}

}  // namespace

void ReferenceBackend::set_num_threads(int threads) {
  if (threads < 1) throw Error("number of threads must be at least 1, got " + std::to_string(threads));
  threads_ = threads;
}

// Plain malloc underneath, not core::allocate's 64-byte aligned_alloc: memalign's split-off
// fragments kept freed blocks from being reused (RN50, 8 images, a new process: 168.3k page
// faults against 157.2k for the earlier std::vector buffers, ~4% slower; with malloc
// 158.1k). oneDNN takes any alignment. Large blocks are kept between calls
// (activation_pool.h).
Buffer ReferenceBackend::allocate(std::int64_t count) {
  std::shared_ptr<void> block =
      pool_->allocate(static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * sizeof(float));
  float* data = static_cast<float*>(block.get());
  return Buffer(std::move(block), data, count);
}

void ReferenceBackend::upload(const float* host, std::int64_t count, float* y) {
  std::memcpy(y, host, static_cast<std::size_t>(count) * sizeof(float));
}

void ReferenceBackend::download(const float* x, std::int64_t count, float* host) {
  std::memcpy(host, x, static_cast<std::size_t>(count) * sizeof(float));
}

void ReferenceBackend::linear(const float* x, std::int64_t m, std::int64_t k, Weights w, std::int64_t n,
                              const float* bias, float* y, bool w_is_kn, Epilogue epilogue) {
  const auto weight = [&](std::int64_t kk, std::int64_t nn) -> double {
    const std::int64_t i = w_is_kn ? kk * n + nn : nn * k + kk;
    return w.fp16 ? core::half_to_float(static_cast<const std::uint16_t*>(w.data)[i])
                  : static_cast<const float*>(w.data)[i];
  };
  for (std::int64_t r = 0; r < m; ++r)
    for (std::int64_t c = 0; c < n; ++c) {
      double sum = bias ? bias[c] : 0.0;
      for (std::int64_t kk = 0; kk < k; ++kk) sum += x[r * k + kk] * weight(kk, c);
      y[r * n + c] = finish(sum, y[r * n + c], epilogue);
    }
}

void ReferenceBackend::linear(const float* x, std::int64_t m, std::int64_t k,
                              const std::vector<Projection>& projections) {
  for (const Projection& p : projections) linear(x, m, k, p.w, p.n, p.bias, p.y, false, Epilogue::Store);
}

void ReferenceBackend::attention(const float* q, const float* k, const float* v, float* out, std::int64_t n,
                                 std::int64_t heads, std::int64_t q_rows, std::int64_t kv_rows, std::int64_t hd,
                                 bool causal) {
  const std::int64_t width = heads * hd;
  std::vector<double> scores(static_cast<std::size_t>(kv_rows));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t h = 0; h < heads; ++h)
      for (std::int64_t i = 0; i < q_rows; ++i) {
        const float* qi = q + (b * q_rows + i) * width + h * hd;
        const std::int64_t visible = causal ? std::min(kv_rows, i + 1) : kv_rows;
        double max = -std::numeric_limits<double>::infinity(), sum = 0;
        for (std::int64_t j = 0; j < visible; ++j) {
          const float* kj = k + (b * kv_rows + j) * width + h * hd;
          double dot = 0;
          for (std::int64_t t = 0; t < hd; ++t) dot += static_cast<double>(qi[t]) * kj[t];
          scores[static_cast<std::size_t>(j)] = dot / std::sqrt(static_cast<double>(hd));
          max = std::max(max, scores[static_cast<std::size_t>(j)]);
        }
        for (std::int64_t j = 0; j < visible; ++j)
          sum += scores[static_cast<std::size_t>(j)] = std::exp(scores[static_cast<std::size_t>(j)] - max);
        float* o = out + (b * q_rows + i) * width + h * hd;
        for (std::int64_t t = 0; t < hd; ++t) {
          double acc = 0;
          for (std::int64_t j = 0; j < visible; ++j)
            acc += scores[static_cast<std::size_t>(j)] * v[(b * kv_rows + j) * width + h * hd + t];
          o[t] = static_cast<float>(acc / sum);
        }
      }
}

void ReferenceBackend::single_query_attention(const float* q, const float* x, std::int64_t n, std::int64_t kv_rows,
                                              std::int64_t heads, std::int64_t head_dim, Weights wk, const float* bk,
                                              Weights wv, const float* bv, float* out) {
  const std::int64_t width = heads * head_dim, rows = n * kv_rows;
  const Buffer k = allocate(rows * width), v = allocate(rows * width);
  linear(x, rows, width, wk, width, bk, k.data(), false, Epilogue::Store);
  linear(x, rows, width, wv, width, bv, v.data(), false, Epilogue::Store);
  attention(q, k.data(), v.data(), out, n, heads, 1, kv_rows, head_dim, false);
}

void ReferenceBackend::conv2d(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                              const float* weight, std::int64_t out_c, std::int64_t kernel, std::int64_t stride,
                              std::int64_t pad, const float* bias, float* y, Epilogue epilogue, Layout in, Layout out) {
  const std::int64_t oh = (h + 2 * pad - kernel) / stride + 1, ow = (w + 2 * pad - kernel) / stride + 1;
  std::vector<float> x_nhwc, y_nhwc;
  if (in != Layout::NHWC) {
    x_nhwc.resize(static_cast<std::size_t>(n * c * h * w));
    to_channels_last(x, in, n, c, h * w, x_nhwc.data());
    x = x_nhwc.data();
  }
  float* const y_out = y;
  if (out != Layout::NHWC) {
    y_nhwc.resize(static_cast<std::size_t>(n * out_c * oh * ow));
    if (epilogue == Epilogue::AddTo || epilogue == Epilogue::AddToReLU)
      to_channels_last(y, out, n, out_c, oh * ow, y_nhwc.data());
    y = y_nhwc.data();
  }
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j)
        for (std::int64_t o = 0; o < out_c; ++o) {
          double sum = bias ? bias[o] : 0.0;
          for (std::int64_t ky = 0; ky < kernel; ++ky)
            for (std::int64_t kx = 0; kx < kernel; ++kx) {
              const std::int64_t yy = i * stride + ky - pad, xx = j * stride + kx - pad;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              for (std::int64_t ch = 0; ch < c; ++ch)
                sum += static_cast<double>(x[((b * h + yy) * w + xx) * c + ch]) *
                       weight[((o * c + ch) * kernel + ky) * kernel + kx];
            }
          float& result = y[((b * oh + i) * ow + j) * out_c + o];
          result = finish(sum, result, epilogue);
        }
  if (out != Layout::NHWC) from_channels_last(y, out, n, out_c, oh * ow, y_out);
}

void ReferenceBackend::layer_norm(const float* x, std::int64_t rows, std::int64_t d, const float* gamma,
                                  const float* beta, float* y) {
  for (std::int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (std::int64_t i = 0; i < d; ++i) mean += x[r * d + i];
    mean /= static_cast<double>(d);
    for (std::int64_t i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(d) + 1e-5);
    for (std::int64_t i = 0; i < d; ++i)
      y[r * d + i] = static_cast<float>((x[r * d + i] - mean) * inv * gamma[i] + beta[i]);
  }
}

void ReferenceBackend::softmax(float* x, std::int64_t rows, std::int64_t n, bool causal, std::int64_t rows_per_matrix) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    const std::int64_t visible = causal ? std::min(n, r % rows_per_matrix + 1) : n;
    double max = -std::numeric_limits<double>::infinity(), sum = 0;
    for (std::int64_t i = 0; i < visible; ++i) max = std::max(max, static_cast<double>(row[i]));
    for (std::int64_t i = 0; i < visible; ++i) sum += std::exp(row[i] - max);
    for (std::int64_t i = 0; i < n; ++i) row[i] = i < visible ? static_cast<float>(std::exp(row[i] - max) / sum) : 0.0f;
  }
}

void ReferenceBackend::relu(float* x, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) x[i] = x[i] > 0 ? x[i] : 0;
}

void ReferenceBackend::add(const float* x, float* y, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) y[i] += x[i];
}

void ReferenceBackend::batch_norm(float* x, std::int64_t n, std::int64_t c, std::int64_t hw, const float* mean,
                                  const float* var, const float* gamma, const float* beta, Layout layout) {
  std::vector<float> nhwc;
  float* const maps = x;
  if (layout != Layout::NHWC) {
    nhwc.resize(static_cast<std::size_t>(n * c * hw));
    to_channels_last(x, layout, n, c, hw, nhwc.data());
    x = nhwc.data();
  }
  for (std::int64_t p = 0; p < n * hw; ++p)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      float& v = x[p * c + ch];
      v = static_cast<float>(
          (v - static_cast<double>(mean[ch])) / std::sqrt(static_cast<double>(var[ch]) + 1e-5) * gamma[ch] + beta[ch]);
    }
  if (layout != Layout::NHWC) from_channels_last(x, layout, n, c, hw, maps);
}

void ReferenceBackend::avg_pool(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                                std::int64_t k, float* y, Layout layout) {
  // Blocked16 maps pool as NHWC ones of n * c / 16 images with 16 channels each.
  if (layout == Layout::Blocked16) return avg_pool(x, n * c / 16, 16, h, w, k, y, Layout::NHWC);
  const std::int64_t oh = h / k, ow = w / k;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j)
        for (std::int64_t ch = 0; ch < c; ++ch) {
          double sum = 0;
          for (std::int64_t a = 0; a < k; ++a)
            for (std::int64_t bb = 0; bb < k; ++bb) sum += x[((b * h + i * k + a) * w + j * k + bb) * c + ch];
          y[((b * oh + i) * ow + j) * c + ch] = static_cast<float>(sum / static_cast<double>(k * k));
        }
}

void ReferenceBackend::to_channels_last(const float* x, Layout from, std::int64_t n, std::int64_t c, std::int64_t hw,
                                        float* y) {
  if (from == Layout::NHWC) {
    std::copy_n(x, n * hw * c, y);
    return;
  }
  const std::int64_t block = from == Layout::Blocked16 ? 16 : 1;  // NCHW: blocks of one channel
  if (c % block != 0) throw Error("feature maps of " + std::to_string(c) + " channels cannot be in blocks of 16");
  for (std::int64_t b = 0; b < n; ++b)  // writes in order: ~4x faster than channel-major for 2048 x 7 x 7
    for (std::int64_t p = 0; p < hw; ++p)
      for (std::int64_t ch = 0; ch < c; ++ch)
        y[(b * hw + p) * c + ch] = x[((b * (c / block) + ch / block) * hw + p) * block + ch % block];
}

void ReferenceBackend::from_channels_last(const float* x, Layout to, std::int64_t n, std::int64_t c, std::int64_t hw,
                                          float* y) {
  if (to != Layout::Blocked16) throw Error("feature maps move from channels-last only into blocks of 16");
  if (c % 16 != 0) throw Error("feature maps of " + std::to_string(c) + " channels cannot be in blocks of 16");
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < hw; ++p)
        y[((b * (c / 16) + ch / 16) * hw + p) * 16 + ch % 16] = x[(b * hw + p) * c + ch];
}

void ReferenceBackend::patchify(const float* images, std::int64_t n, std::int64_t c, std::int64_t r, std::int64_t p,
                                float* y) {
  const std::int64_t grid = r / p;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t gy = 0; gy < grid; ++gy)
      for (std::int64_t gx = 0; gx < grid; ++gx)
        for (std::int64_t ch = 0; ch < c; ++ch)
          for (std::int64_t ky = 0; ky < p; ++ky)
            std::copy_n(images + ((b * c + ch) * r + gy * p + ky) * r + gx * p, p,
                        y + ((b * grid + gy) * grid + gx) * c * p * p + (ch * p + ky) * p);
}

void ReferenceBackend::prepend_and_add_positions(const float* x, std::int64_t n, std::int64_t rows, std::int64_t d,
                                                 const float* first, const float* pos, float* y) {
  for (std::int64_t b = 0; b < n; ++b) {
    const float* in = x + b * rows * d;
    float* out = y + b * (rows + 1) * d;
    for (std::int64_t i = 0; i < d; ++i) {
      double head = 0;
      if (first) {
        head = first[i];
      } else {
        for (std::int64_t r = 0; r < rows; ++r) head += in[r * d + i];
        head /= static_cast<double>(rows);
      }
      out[i] = static_cast<float>(head) + pos[i];
    }
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t i = 0; i < d; ++i) out[(r + 1) * d + i] = in[r * d + i] + pos[(r + 1) * d + i];
  }
}

void ReferenceBackend::gather_rows(const float* x, std::int64_t d, const std::vector<std::int64_t>& rows, float* y) {
  for (std::size_t i = 0; i < rows.size(); ++i) std::copy_n(x + rows[i] * d, d, y + static_cast<std::int64_t>(i) * d);
}

void ReferenceBackend::embed_tokens(const float* table, const float* pos, std::int64_t d,
                                    const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& positions,
                                    float* y) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (std::int64_t j = 0; j < d; ++j)
      y[static_cast<std::int64_t>(i) * d + j] = table[ids[i] * d + j] + pos[positions[i] * d + j];
}

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace clip::runtime
