// `clip embed`: many images -> unit-length features, as one .npy with the list of files
// (.json) or as a folder of parts (clip/collection.h); `clip search`: ranks those images by
// a text or image query.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace cli {
namespace {

namespace fs = std::filesystem;

// The index's file list lives beside the array: embeddings.npy -> embeddings.json.
fs::path sidecar(const fs::path& npy) { return fs::path(npy).replace_extension(".json"); }

// "embed 120/1000  45.1 images/s  ETA 19 s" on stderr, redrawn in place, only on a
// terminal. Without a total (tar shards are counted as they are read): "embed 120".
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), enabled_(isatty(STDERR_FILENO)) {}
  ~Progress() {
    if (enabled_ && drawn_) std::fputc('\n', stderr);
  }
  void update(std::size_t done) {
    if (!enabled_) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? (done - first_) / seconds : 0;
    if (total_ > 0) {
      const double eta = rate > 0 ? (total_ - done) / rate : 0;
      std::fprintf(stderr, "\rembed %zu/%zu  %.1f images/s  ETA %.0f s   ", done, total_, rate, eta);
    } else {
      std::fprintf(stderr, "\rembed %zu  %.1f images/s   ", done, rate);
    }
    drawn_ = true;
  }
  // Items finished before this run (resumed parts): not counted in the rate.
  void resumed(std::size_t done) { first_ = done; }

 private:
  std::size_t total_, first_ = 0;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

std::size_t known_items(const clip::CollectionPlan& plan) {
  std::size_t n = 0;
  for (const clip::Shard& s : plan.shards) {
    if (!s.tar.empty()) return 0;  // counted only as read
    n += s.files.size();
  }
  return n;
}

clip::PartOptions part_options(const EmbedOptions& opt) {
  clip::PartOptions o;
  o.batch = opt.batch;
  o.image = opt.input.image_options();
  o.decode_threads = opt.decode_threads;
  if (opt.dtype == "float16")
    o.dtype = clip::DType::Float16;
  else if (opt.dtype != "float32")
    throw clip::Error("--dtype is float32 or float16, not " + opt.dtype);
  return o;
}

std::string item_name(const clip::ItemRecord& r) { return r.member.empty() ? r.path : r.path + "#" + r.member; }

// --out DIR: one part per shard, finished parts kept (a run started again resumes), then
// the manifest.
int embed_parts(const EmbedOptions& opt, const clip::CollectionPlan& plan) {
  const fs::path dir = opt.out;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw clip::Error("cannot write parts into " + opt.out +
                      ": it is a file (give a folder, or a name ending in .npy)");
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, &preprocess);
  clip::RunInfo info;
  info.model = clip::model_reference(opt.model.name);
  if (!opt.model.config.empty()) info.config = clip::model_reference(opt.model.config);
  info.precision = opt.model.precision;
  info.check = clip::model_check(model);
  clip::PartOptions options = part_options(opt);
  info.dtype = options.dtype;
  info.batch = opt.batch;
  info.part_size = opt.part_size;
  clip::begin_run(dir, plan, info);

  Progress progress(known_items(plan));
  std::size_t done = 0, resumed = 0;
  for (std::size_t p = 0; p < plan.shards.size(); ++p) {
    const clip::Shard& shard = plan.shards[p];
    if (clip::part_done(dir, p)) {  // finished by an earlier run
      resumed += shard.files.size();
      done += shard.files.size();
      progress.resumed(done);
      continue;
    }
    options.progress = [&](std::size_t items) { progress.update(done + items); };
    done += clip::embed_part(model, preprocess, shard, p, dir, options).items;
  }
  const clip::PartSummary total = clip::finish_run(dir);
  for (const auto& [file, reason] : plan.skipped)
    std::cerr << "clip: warning: skipped " << file << ": " << reason << '\n';
  std::cerr << "clip: embedded " << total.embedded << " images into " << plan.shards.size() << " parts in " << opt.out
            << (total.failed
                    ? " (" + std::to_string(total.failed) + " unreadable: status \"error\" in the parts' .jsonl)"
                    : "")
            << (resumed ? "; " + std::to_string(resumed) + " were embedded by an earlier run" : "") << '\n';
  return 0;
}

// --out X.npy: every image in one array, X.json beside it.
int embed_one_file(const EmbedOptions& opt, const clip::CollectionPlan& plan) {
  if (opt.dtype != "float32") throw clip::Error("--dtype float16 is for a folder of parts (--out DIR)");
  // Before any work: a run must not end in "cannot write" (issue #14).
  const fs::path out_dir = fs::absolute(opt.out).parent_path();
  if (!fs::is_directory(out_dir))
    throw clip::Error("cannot write " + opt.out + ": folder " + out_dir.string() + " does not exist");
  if (access(out_dir.c_str(), W_OK) != 0)
    throw clip::Error("cannot write " + opt.out + ": folder " + out_dir.string() + " is not writable");
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, &preprocess);
  clip::PartOptions options = part_options(opt);
  Progress progress(known_items(plan));
  std::size_t done = 0;
  std::vector<float> features;
  std::vector<std::string> embedded;
  std::vector<std::pair<std::string, std::string>> skipped = plan.skipped;
  for (const clip::Shard& shard : plan.shards) {
    options.progress = [&](std::size_t items) { progress.update(done + items); };
    const clip::EmbeddedShard e = clip::embed_shard(model, preprocess, shard, options);
    done += e.records.size();
    const std::vector<float> f = e.features.to_vector<float>();
    features.insert(features.end(), f.begin(), f.end());
    for (const clip::ItemRecord& r : e.records) {
      if (r.error.empty())
        embedded.push_back(item_name(r));
      else
        skipped.emplace_back(item_name(r), r.error);
    }
  }
  for (const auto& [file, reason] : skipped) std::cerr << "clip: warning: skipped " << file << ": " << reason << '\n';
  if (embedded.empty())
    throw clip::Error("none of the " + std::to_string(skipped.size()) + " inputs could be read as images");
  const auto count = static_cast<std::int64_t>(embedded.size());
  clip::save_npy(opt.out, clip::Tensor::from_vector({count, model.config().embed_dim}, features));
  nlohmann::ordered_json index;
  index["model"] = clip::model_reference(opt.model.name);
  if (!opt.model.config.empty()) index["config"] = clip::model_reference(opt.model.config);
  index["model_check"] = clip::model_check(model);
  index["files"] = embedded;
  index["skipped"] = nlohmann::json::array();
  for (const auto& entry : skipped) index["skipped"].push_back(entry.first);
  clip::write_atomically(sidecar(opt.out), [&](std::ostream& out) { out << index.dump(1) << '\n'; });
  std::cerr << "clip: embedded " << count << " images"
            << (skipped.empty() ? "" : " (" + std::to_string(skipped.size()) + " unreadable, skipped)") << " -> "
            << opt.out << ", " << sidecar(opt.out).string() << '\n';
  return 0;
}

}  // namespace

std::string read_text_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw clip::Error("cannot read " + what + " " + path + ": it is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw clip::Error("cannot open " + what + " " + path);
  return {std::istreambuf_iterator<char>(in), {}};
}

int run_embed(const EmbedOptions& opt) {
  if (opt.batch < 1) throw clip::Error("--batch must be at least 1");
  if (opt.part_size < 1) throw clip::Error("--part-size must be at least 1");
  const bool one_file = fs::path(opt.out).extension() == ".npy";
  const clip::CollectionPlan plan = clip::plan_collection(opt.inputs, one_file ? SIZE_MAX : opt.part_size);
  if (plan.shards.empty()) {
    for (const auto& [file, reason] : plan.skipped)
      std::cerr << "clip: warning: skipped " << file << ": " << reason << '\n';
    throw clip::Error("no image files found in the inputs");
  }
  return one_file ? embed_one_file(opt, plan) : embed_parts(opt, plan);
}

int run_search(const SearchOptions& opt) {
  if (opt.top < 1) throw clip::Error("--top must be at least 1");
  if (opt.queries.empty() && opt.images.empty()) throw clip::Error("give a text QUERY or --image");
  const clip::Embeddings index = clip::read_embeddings(opt.index);
  const clip::Tensor& images = index.features;
  const std::vector<std::string>& files = index.items;
  ModelOptions model_options = opt.model;
  if (model_options.name.empty()) {
    model_options.name = index.model;
    if (model_options.config.empty()) model_options.config = index.config;
  }
  if (model_options.name.empty()) throw clip::Error("give --model: " + opt.index + " does not name one");
  const std::string& model_name = model_options.name;
  clip::Preprocess preprocess;
  const clip::Model model = load_model(model_options, &preprocess);
  clip::check_embeddings(index, opt.index, model, model_name);

  // Text queries, then image queries (image-to-image search), as unit rows [queries, embed].
  std::vector<std::string> names = opt.queries;
  std::vector<float> rows;
  if (!opt.queries.empty())
    rows = label_features(model, opt.queries, opt.templates, opt.input.truncate).to_vector<float>();
  if (!opt.images.empty()) {
    std::vector<clip::Tensor> pixels;
    for (const std::string& image : opt.images) pixels.push_back(preprocess(open_image(image, opt.input)));
    const auto features = clip::normalize(model.encode_image(clip::stack(pixels))).to_vector<float>();
    rows.insert(rows.end(), features.begin(), features.end());
    names.insert(names.end(), opt.images.begin(), opt.images.end());
  }
  const clip::Tensor queries =
      clip::Tensor::from_vector({static_cast<std::int64_t>(names.size()), images.size(1)}, rows);
  const std::vector<float> scores = clip::cosine_similarity(queries, images).to_vector<float>();  // [queries, images]
  const std::size_t n = files.size(), top = std::min<std::size_t>(opt.top, n);
  for (std::size_t q = 0; q < names.size(); ++q) {
    const std::vector<std::size_t> order =
        ranking(std::vector<float>(scores.begin() + q * n, scores.begin() + (q + 1) * n));
    if (opt.json) {
      nlohmann::ordered_json j;
      j["query"] = names[q];
      j["results"] = nlohmann::json::array();
      for (std::size_t r = 0; r < top; ++r)
        j["results"].push_back({{"file", files[order[r]]}, {"score", scores[q * n + order[r]]}});
      std::cout << j.dump() << '\n';
      continue;
    }
    std::cout << names[q] << '\n';
    for (std::size_t r = 0; r < top; ++r) {
      char score[32];
      std::snprintf(score, sizeof score, "%.4f", scores[q * n + order[r]]);
      std::cout << "  " << r + 1 << ". " << score << "  " << files[order[r]] << '\n';
    }
  }
  return 0;
}

}  // namespace cli
