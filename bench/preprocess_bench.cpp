// Decode + preprocess time per image (one thread), for the two images of
// ../shared/fixtures/REFERENCE_SPEEDS.md: the 1920x1080 JPEG and CLIP.png.
#include <benchmark/benchmark.h>

#include <fstream>

#include "clip/image.h"

namespace {

std::vector<std::uint8_t> read_image(const char* name) {
  const char* env = std::getenv("CLIP_SHARED_DIR");
  const std::string path = std::string(env ? env : CLIP_SHARED_DIR) + "/fixtures/preprocess/images/" + name;
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void run(benchmark::State& state, const char* name) {
  const std::vector<std::uint8_t> data = read_image(name);
  if (data.empty()) return state.SkipWithError("image not found (../shared)");
  const clip::Preprocess preprocess(224);
  for (auto _ : state) benchmark::DoNotOptimize(preprocess(data, name));
}

// The image decoded whole, then preprocessed (what a caller holding a clip::Image gets).
void run_whole(benchmark::State& state, const char* name) {
  const std::vector<std::uint8_t> data = read_image(name);
  if (data.empty()) return state.SkipWithError("image not found (../shared)");
  const clip::Preprocess preprocess(224);
  for (auto _ : state) benchmark::DoNotOptimize(preprocess(clip::Image::decode(data, name)));
}

void run_decode(benchmark::State& state, const char* name) {
  const std::vector<std::uint8_t> data = read_image(name);
  if (data.empty()) return state.SkipWithError("image not found (../shared)");
  for (auto _ : state) benchmark::DoNotOptimize(clip::Image::decode(data, name));
}

void BM_Jpeg1920x1080_DecodePreprocess(benchmark::State& s) { run(s, "scene_jpeg420_1920x1080.jpg"); }
void BM_ClipPng_DecodePreprocess(benchmark::State& s) { run(s, "clip_png.png"); }
void BM_Jpeg1920x1080_DecodeWholePreprocess(benchmark::State& s) { run_whole(s, "scene_jpeg420_1920x1080.jpg"); }
void BM_Jpeg1920x1080_DecodeOnly(benchmark::State& s) { run_decode(s, "scene_jpeg420_1920x1080.jpg"); }
void BM_ClipPng_DecodeOnly(benchmark::State& s) { run_decode(s, "clip_png.png"); }
BENCHMARK(BM_Jpeg1920x1080_DecodePreprocess)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ClipPng_DecodePreprocess)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Jpeg1920x1080_DecodeWholePreprocess)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Jpeg1920x1080_DecodeOnly)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ClipPng_DecodeOnly)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
