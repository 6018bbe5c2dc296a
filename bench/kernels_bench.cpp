// The engine's hot kernels at the real shapes of ViT-B/32 and RN50, on the CPU backend,
// with the rate each reaches (FLOP/s counter). Threads: $OMP_NUM_THREADS, else all cores.
//   ./build/bench/kernels_bench --benchmark_filter=Linear
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "runtime/backend.h"

namespace {

using clip::runtime::Backend;

std::vector<float> random_values(std::int64_t count) {
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = normal(rng);
  return v;
}

// y[m, n] = x[m, k] w^T + b, with the transformer's fused epilogues; ViT-B/32 has m = 50
// rows per image (8 images: 400), text 3 demo prompts of 4 tokens: 12. With layers = 12
// it cycles through 12 weight matrices as a tower's 12 layers do: the weights (up to
// 113 MB) no longer stay in the caches from one call to the next, as in the model.
void BM_Linear(benchmark::State& state, Backend::Epilogue epilogue, bool bf16, int layers = 1) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const auto backend = clip::runtime::make_cpu_backend();
  backend->set_bf16_linear(bf16);
  const auto x = random_values(m * k), b = random_values(n);
  std::vector<std::vector<float>> w;
  for (int i = 0; i < layers; ++i) w.push_back(random_values(n * k));
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    for (const auto& weights : w)
      backend->linear(x.data(), m, k, weights.data(), n, b.data(), y.data(), false, epilogue);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * m * k * n * layers, benchmark::Counter::kIsIterationInvariantRate);
}

void LinearShapes(benchmark::internal::Benchmark* b) {
  for (const std::int64_t m : {50, 400, 12})
    for (const auto& [k, n] :
         std::vector<std::pair<std::int64_t, std::int64_t>>{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}})
      b->Args({m, k, n});
  b->ArgNames({"m", "k", "n"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void BM_Linear_fp32(benchmark::State& s) { BM_Linear(s, Backend::Epilogue::Store, false); }
void BM_Linear_fp32_QuickGELU(benchmark::State& s) { BM_Linear(s, Backend::Epilogue::QuickGELU, false); }
void BM_Linear_bf16(benchmark::State& s) { BM_Linear(s, Backend::Epilogue::Store, true); }
void BM_Linear_fp32_12_layers(benchmark::State& s) { BM_Linear(s, Backend::Epilogue::Store, false, 12); }
void BM_Linear_bf16_12_layers(benchmark::State& s) { BM_Linear(s, Backend::Epilogue::Store, true, 12); }
BENCHMARK(BM_Linear_fp32)->Apply(LinearShapes);
BENCHMARK(BM_Linear_fp32_QuickGELU)
    ->Args({50, 768, 3072})
    ->Args({400, 768, 3072})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_Linear_bf16)->Apply(LinearShapes);
BENCHMARK(BM_Linear_fp32_12_layers)->Apply(LinearShapes);
BENCHMARK(BM_Linear_bf16_12_layers)->Apply(LinearShapes);

// ViT-B/32 self-attention, 12 heads of 64 over 50 tokens.
void BM_Attention(benchmark::State& state) {
  const std::int64_t n = state.range(0), l = 50, heads = 12, hd = 64, d = heads * hd;
  const auto backend = clip::runtime::make_cpu_backend();
  const auto q = random_values(n * l * d), k = random_values(n * l * d), v = random_values(n * l * d);
  std::vector<float> out(static_cast<std::size_t>(n * l * d));
  for (auto _ : state) {
    backend->attention(q.data(), k.data(), v.data(), out.data(), n, heads, l, l, hd, false);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(4.0 * n * heads * l * l * hd, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Attention)->Arg(1)->Arg(8)->ArgName("images")->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_LayerNorm(benchmark::State& state) {
  const std::int64_t rows = state.range(0), d = 768;
  const auto backend = clip::runtime::make_cpu_backend();
  const auto x = random_values(rows * d), gamma = random_values(d), beta = random_values(d);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    backend->layer_norm(x.data(), rows, d, gamma.data(), beta.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * rows * d * 8);
}
BENCHMARK(BM_LayerNorm)->Arg(50)->Arg(400)->ArgName("rows")->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_SoftmaxCausal(benchmark::State& state) {
  const std::int64_t heads = 8 * 32, l = 11;  // text, 32 prompts
  const auto backend = clip::runtime::make_cpu_backend();
  auto x = random_values(heads * l * l);
  for (auto _ : state) {
    backend->softmax(x.data(), heads * l, l, true, l);
    benchmark::DoNotOptimize(x.data());
  }
}
BENCHMARK(BM_SoftmaxCausal)->Unit(benchmark::kMicrosecond)->UseRealTime();

// RN50 convolutions (NHWC, batch 1): {in channels, size, out channels, kernel, stride}, and
// the fused epilogues of the jit path.
void BM_Conv(benchmark::State& state) {
  const std::int64_t c = state.range(0), hw = state.range(1), out_c = state.range(2), kernel = state.range(3),
                     stride = state.range(4), pad = kernel / 2;
  const auto epilogue = static_cast<Backend::Epilogue>(state.range(5));
  const auto backend = clip::runtime::make_cpu_backend();
  const std::int64_t ohw = (hw + 2 * pad - kernel) / stride + 1;
  const auto x = random_values(c * hw * hw), w = random_values(out_c * c * kernel * kernel), b = random_values(out_c);
  std::vector<float> y(static_cast<std::size_t>(out_c * ohw * ohw));
  for (auto _ : state) {
    backend->conv2d(x.data(), 1, c, hw, hw, w.data(), out_c, kernel, stride, pad, b.data(), y.data(), epilogue);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * out_c * ohw * ohw * c * kernel * kernel, benchmark::Counter::kIsIterationInvariantRate);
}
constexpr auto kReLU = static_cast<std::int64_t>(Backend::Epilogue::ReLU);
constexpr auto kAddReLU = static_cast<std::int64_t>(Backend::Epilogue::AddToReLU);
BENCHMARK(BM_Conv)
    ->Args({3, 224, 32, 3, 2, kReLU})      // stem conv1
    ->Args({32, 112, 64, 3, 1, kReLU})     // stem conv3
    ->Args({64, 56, 64, 1, 1, kReLU})      // layer1 conv1
    ->Args({64, 56, 64, 3, 1, kReLU})      // layer1 conv2
    ->Args({64, 56, 256, 1, 1, kAddReLU})  // layer1 conv3 + residual
    ->Args({256, 14, 256, 3, 1, kReLU})    // layer3 conv2
    ->Args({512, 7, 512, 3, 1, kReLU})     // layer4 conv2
    ->ArgNames({"c", "hw", "out", "k", "s", "epilogue"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
