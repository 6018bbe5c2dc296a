// Tokenizer throughput on the two workloads of ../shared/fixtures/REFERENCE_SPEEDS.md: the
// 10,000 captions (80 ImageNet prompt templates x 125 class names) and the 37,981 strings of
// real multilingual text (bench_multilingual.jsonl), cold (a new tokenizer: empty BPE cache)
// and warm. Reports strings per second; compare with the reference's figures there, per
// CPU-second (run pinned to one core: taskset -c 0).
#include <benchmark/benchmark.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "clip/tokenizer.h"

namespace {

std::string shared_dir() {
  const char* env = std::getenv("CLIP_SHARED_DIR");
  return env ? env : CLIP_SHARED_DIR;
}

std::vector<std::string> load_jsonl(const std::string& name) {
  const std::string path = shared_dir() + "/fixtures/tokenizer/" + name;
  std::ifstream in(path);
  std::vector<std::string> captions;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) captions.push_back(nlohmann::json::parse(line).get<std::string>());
  if (captions.empty()) std::cerr << "SKIPPED: " << path << " not found\n";
  return captions;
}

const std::vector<std::string>& captions() {
  static const std::vector<std::string> c = load_jsonl("bench_captions.jsonl");
  return c;
}

const std::vector<std::string>& multilingual() {
  static const std::vector<std::string> c = load_jsonl("bench_multilingual.jsonl");
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

// clip.tokenize(list_of_37981, truncate=True) with a new tokenizer each time, as a new
// process sees it: built from the merges file, so that its BPE cache starts empty (the
// default SimpleTokenizer() shares the built-in tokenizer's cache, which the previous
// iteration warmed); its construction, ~0.1 s, is kept out of the timing.
void BM_MultilingualCold(benchmark::State& state) {
  const auto& texts = multilingual();
  if (texts.empty()) return state.SkipWithError("bench_multilingual.jsonl not found");
  const std::string merges = shared_dir() + "/assets/bpe_simple_vocab_16e6.txt.gz";
  for (auto _ : state) {
    state.PauseTiming();
    auto tokenizer = std::make_unique<clip::SimpleTokenizer>(merges);
    state.ResumeTiming();
    benchmark::DoNotOptimize(clip::tokenize(*tokenizer, texts, 77, true));
    state.PauseTiming();
    tokenizer.reset();
    state.ResumeTiming();
  }
  state.counters["strings/s"] =
      benchmark::Counter(static_cast<double>(texts.size()) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MultilingualCold)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->Iterations(3);

// The same call again, the cache warm from the previous one.
void BM_MultilingualWarm(benchmark::State& state) {
  const auto& texts = multilingual();
  if (texts.empty()) return state.SkipWithError("bench_multilingual.jsonl not found");
  const clip::SimpleTokenizer tokenizer;
  clip::tokenize(tokenizer, texts, 77, true);
  for (auto _ : state) benchmark::DoNotOptimize(clip::tokenize(tokenizer, texts, 77, true));
  state.counters["strings/s"] =
      benchmark::Counter(static_cast<double>(texts.size()) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MultilingualWarm)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
