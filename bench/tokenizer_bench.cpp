// Tokenizer throughput on the 10,000-caption workload of ../shared/fixtures/REFERENCE_SPEEDS.md
// (80 ImageNet prompt templates x 125 class names). Reports captions per second.
#include <benchmark/benchmark.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "clip/tokenizer.h"

namespace {

std::vector<std::string> load_captions() {
  const char* env = std::getenv("CLIP_SHARED_DIR");
  const std::string path = std::string(env ? env : CLIP_SHARED_DIR) + "/fixtures/tokenizer/bench_captions.jsonl";
  std::ifstream in(path);
  std::vector<std::string> captions;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) captions.push_back(nlohmann::json::parse(line).get<std::string>());
  if (captions.empty()) std::cerr << "SKIPPED: " << path << " not found\n";
  return captions;
}

const std::vector<std::string>& captions() {
  static const std::vector<std::string> c = load_captions();
  return c;
}

// clip.tokenize(list_of_10000): one call for the whole batch.
void BM_TokenizeBatch(benchmark::State& state) {
  const auto& texts = captions();
  if (texts.empty()) return state.SkipWithError("bench_captions.jsonl not found");
  clip::tokenize(texts);  // warm the BPE cache, as the reference's benchmark does
  for (auto _ : state) benchmark::DoNotOptimize(clip::tokenize(texts));
  state.counters["captions/s"] =
      benchmark::Counter(static_cast<double>(texts.size()) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizeBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

// clip.tokenize(caption) in a loop.
void BM_TokenizeOneByOne(benchmark::State& state) {
  const auto& texts = captions();
  if (texts.empty()) return state.SkipWithError("bench_captions.jsonl not found");
  for (const auto& t : texts) clip::tokenize(t);
  for (auto _ : state)
    for (const auto& t : texts) benchmark::DoNotOptimize(clip::tokenize(t));
  state.counters["captions/s"] =
      benchmark::Counter(static_cast<double>(texts.size()) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizeOneByOne)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
