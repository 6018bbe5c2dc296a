// The CPU backend's oneDNN operations against plain loops, one case per operation and
// epilogue: they must agree whichever oneDNN generation (2.x or 3.x) the library was built
// with, and whichever kernel (direct, Winograd, packed or plain weights) oneDNN picks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "runtime/backend.h"

namespace {

using clip::runtime::Backend;
using Epilogue = Backend::Epilogue;

std::vector<float> random_values(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = normal(rng);
  return v;
}

float apply(Epilogue epilogue, float value, float previous) {
  switch (epilogue) {
    case Epilogue::Store: return value;
    case Epilogue::QuickGELU: return value / (1.0f + std::exp(-1.702f * value));
    case Epilogue::GELU: return 0.5f * value * (1.0f + std::erf(value / std::sqrt(2.0f)));
    case Epilogue::ReLU: return std::max(value, 0.0f);
    case Epilogue::AddTo: return previous + value;
    case Epilogue::AddToReLU: return std::max(previous + value, 0.0f);
  }
  return value;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= 1e-4f * (1.0f + std::abs(want[i])))) ++bad;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " values differ";
}

// x NHWC [n, h, w, c], weight [out_c, c, k, k], output NHWC.
std::vector<float> reference_conv(const std::vector<float>& x, std::int64_t n, std::int64_t c, std::int64_t h,
                                  std::int64_t w, const std::vector<float>& weight, std::int64_t out_c,
                                  std::int64_t k, std::int64_t stride, std::int64_t pad, const float* bias,
                                  const std::vector<float>& previous, Epilogue epilogue) {
  const std::int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
  std::vector<float> y(static_cast<std::size_t>(n * oh * ow * out_c));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j)
        for (std::int64_t o = 0; o < out_c; ++o) {
          double sum = bias ? bias[o] : 0.0;
          for (std::int64_t a = 0; a < k; ++a)
            for (std::int64_t d = 0; d < k; ++d) {
              const std::int64_t yy = i * stride + a - pad, xx = j * stride + d - pad;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              for (std::int64_t ch = 0; ch < c; ++ch)
                sum += double(x[((b * h + yy) * w + xx) * c + ch]) * weight[((o * c + ch) * k + a) * k + d];
            }
          const std::size_t at = ((b * oh + i) * ow + j) * out_c + o;
          y[at] = apply(epilogue, static_cast<float>(sum), previous[at]);
        }
  return y;
}

struct ConvCase {
  std::int64_t n, c, h, w, out_c, k, stride, pad;
  bool bias;
  Epilogue epilogue;
};

TEST(CpuBackend, Conv2dMatchesPlainLoops) {
  const std::vector<ConvCase> cases = {
      {1, 3, 17, 17, 8, 3, 2, 1, false, Epilogue::Store},     // a ResNet stem
      {2, 16, 9, 9, 32, 3, 1, 1, true, Epilogue::ReLU},       // 3x3 stride 1: Winograd where oneDNN has it
      {1, 32, 8, 8, 16, 3, 1, 1, false, Epilogue::AddToReLU},  // a block's end, Winograd-shaped
      {2, 16, 6, 6, 48, 1, 1, 0, true, Epilogue::AddTo},       // 1x1 with a residual
      {1, 12, 7, 7, 20, 1, 1, 0, false, Epilogue::ReLU},       // channels not a multiple of 16
      // Shapes of the rn50-tiny fixture model; 512 output channels are packed in blocks of
      // 48 with a padded tail, which oneDNN 3.7 reordered wrongly from oihw (onednn::packing_source).
      {1, 128, 4, 4, 128, 3, 1, 1, false, Epilogue::Store},
      {1, 128, 2, 2, 512, 1, 1, 0, false, Epilogue::Store},
      {1, 256, 2, 2, 512, 1, 1, 0, false, Epilogue::Store},
      {1, 3, 64, 64, 8, 3, 2, 1, false, Epilogue::Store},
  };
  unsigned seed = 1;
  for (const ConvCase& t : cases) {
    // A backend per case: it knows weights by address, and a freed case's may be reused.
    auto backend = clip::runtime::make_cpu_backend();
    const std::int64_t oh = (t.h + 2 * t.pad - t.k) / t.stride + 1, ow = (t.w + 2 * t.pad - t.k) / t.stride + 1;
    const auto x = random_values(static_cast<std::size_t>(t.n * t.h * t.w * t.c), seed++);
    const auto weight = random_values(static_cast<std::size_t>(t.out_c * t.c * t.k * t.k), seed++);
    const auto bias = random_values(static_cast<std::size_t>(t.out_c), seed++);
    const auto previous = random_values(static_cast<std::size_t>(t.n * oh * ow * t.out_c), seed++);
    const auto want = reference_conv(x, t.n, t.c, t.h, t.w, weight, t.out_c, t.k, t.stride, t.pad,
                                     t.bias ? bias.data() : nullptr, previous, t.epilogue);
    // Twice: the first call prepares the primitive and packs the weights, the second reuses them.
    for (int round = 0; round < 2; ++round) {
      std::vector<float> y = previous;
      backend->conv2d(x.data(), t.n, t.c, t.h, t.w, weight.data(), t.out_c, t.k, t.stride, t.pad,
                      t.bias ? bias.data() : nullptr, y.data(), t.epilogue);
      expect_close(y, want,
                   "conv " + std::to_string(t.c) + "->" + std::to_string(t.out_c) + " k" + std::to_string(t.k) +
                       " s" + std::to_string(t.stride) + " round " + std::to_string(round));
    }
  }
}

TEST(CpuBackend, LinearMatchesPlainLoopsForEveryEpilogue) {
  const std::int64_t m = 5, k = 24, n = 40;
  auto backend = clip::runtime::make_cpu_backend();
  const auto x = random_values(m * k, 11), w = random_values(n * k, 12), bias = random_values(n, 13),
             previous = random_values(m * n, 14);
  for (Epilogue epilogue : {Epilogue::Store, Epilogue::QuickGELU, Epilogue::GELU, Epilogue::ReLU, Epilogue::AddTo})
    for (bool w_is_kn : {false, true}) {
      std::vector<float> want(m * n);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double sum = bias[j];
          for (std::int64_t p = 0; p < k; ++p) sum += double(x[i * k + p]) * (w_is_kn ? w[p * n + j] : w[j * k + p]);
          want[i * n + j] = apply(epilogue, static_cast<float>(sum), previous[i * n + j]);
        }
      // Three times: plain weights first, then packed ones (prepared, then reused).
      for (int round = 0; round < 3; ++round) {
        std::vector<float> y = previous;
        backend->linear(x.data(), m, k, w.data(), n, bias.data(), y.data(), w_is_kn, epilogue);
        expect_close(y, want, "linear epilogue " + std::to_string(static_cast<int>(epilogue)) + " round " +
                                  std::to_string(round));
      }
    }
}

TEST(CpuBackend, AttentionMatchesPlainLoops) {
  const std::int64_t n = 2, heads = 3, hd = 8, rows = 5;
  auto backend = clip::runtime::make_cpu_backend();
  const std::int64_t width = heads * hd;
  const auto q = random_values(n * rows * width, 21), k = random_values(n * rows * width, 22),
             v = random_values(n * rows * width, 23);
  for (bool causal : {false, true}) {
    std::vector<float> want(n * rows * width);
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < rows; ++i) {
          std::vector<double> p(rows, 0.0);
          double max = -1e300, total = 0;
          const std::int64_t visible = causal ? i + 1 : rows;
          for (std::int64_t j = 0; j < visible; ++j) {
            for (std::int64_t d = 0; d < hd; ++d)
              p[j] += double(q[(b * rows + i) * width + h * hd + d]) * k[(b * rows + j) * width + h * hd + d];
            p[j] /= std::sqrt(double(hd));
            max = std::max(max, p[j]);
          }
          for (std::int64_t j = 0; j < visible; ++j) total += p[j] = std::exp(p[j] - max);
          for (std::int64_t d = 0; d < hd; ++d) {
            double sum = 0;
            for (std::int64_t j = 0; j < visible; ++j) sum += p[j] / total * v[(b * rows + j) * width + h * hd + d];
            want[(b * rows + i) * width + h * hd + d] = static_cast<float>(sum);
          }
        }
    std::vector<float> out(n * rows * width);
    backend->attention(q.data(), k.data(), v.data(), out.data(), n, heads, rows, rows, hd, causal);
    expect_close(out, want, causal ? "causal attention" : "attention");
  }
}

TEST(CpuBackend, LayerNormMatchesPlainLoops) {
  const std::int64_t rows = 4, d = 48;
  auto backend = clip::runtime::make_cpu_backend();
  const auto x = random_values(rows * d, 31), gamma = random_values(d, 32), beta = random_values(d, 33);
  std::vector<float> want(rows * d), y(rows * d);
  for (std::int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (std::int64_t i = 0; i < d; ++i) mean += x[r * d + i] / double(d);
    for (std::int64_t i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean) / double(d);
    for (std::int64_t i = 0; i < d; ++i)
      want[r * d + i] = static_cast<float>((x[r * d + i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + beta[i]);
  }
  backend->layer_norm(x.data(), rows, d, gamma.data(), beta.data(), y.data());
  expect_close(y, want, "layer_norm");
}

}  // namespace
