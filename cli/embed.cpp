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
#include "progress.h"

namespace cli {
namespace {

namespace fs = std::filesystem;

// The index's file list lives beside the array: embeddings.npy -> embeddings.json.
fs::path sidecar(const fs::path& npy) { return fs::path(npy).replace_extension(".json"); }

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

  Progress progress("embed", "images", known_items(plan));
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
  Progress progress("embed", "images", known_items(plan));
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
  if (opt.queries.empty() && opt.images.empty() && opt.vectors.empty())
    throw clip::Error("give a text QUERY, --image or --vectors");
  if (!opt.vectors.empty() && (!opt.queries.empty() || !opt.images.empty()))
    throw clip::Error("--vectors are the queries: give no text or --image with them");
  const Searcher searcher(opt.index);
  const clip::Embeddings& index = searcher.embeddings();
  const std::vector<std::string>& files = index.items;

  // The queries as unit rows [queries, embed]: vectors as given; else texts, then images
  // (image-to-image search) through the index's model.
  std::vector<std::string> names;
  std::vector<float> rows;
  if (!opt.vectors.empty()) {
    const clip::Tensor v = clip::load_npy(opt.vectors);
    if (v.dim() != 2 || v.size(1) != index.dim)
      throw clip::Error("--vectors " + opt.vectors + " holds " + v.shape_string() + ", not rows of " +
                        std::to_string(index.dim) + " (the index's)");
    rows = clip::normalize(v.to(clip::DType::Float32)).to_vector<float>();
    for (std::int64_t i = 0; i < v.size(0); ++i) names.push_back(opt.vectors + "[" + std::to_string(i) + "]");
  } else {
    ModelOptions model_options = opt.model;
    if (model_options.name.empty()) {
      model_options.name = index.model;
      if (model_options.config.empty()) model_options.config = index.config;
    }
    if (model_options.name.empty()) throw clip::Error("give --model: " + opt.index + " does not name one");
    clip::Preprocess preprocess;
    const clip::Model model = load_model(model_options, &preprocess);
    clip::check_embeddings(index, opt.index, model, model_options.name);
    names = opt.queries;
    if (!opt.queries.empty())
      rows = label_features(model, opt.queries, opt.templates, opt.input.truncate).to_vector<float>();
    if (!opt.images.empty()) {
      std::vector<clip::Tensor> pixels;
      for (const std::string& image : opt.images) pixels.push_back(preprocess_image(preprocess, image, opt.input));
      const auto features = clip::normalize(model.encode_image(clip::stack(pixels))).to_vector<float>();
      rows.insert(rows.end(), features.begin(), features.end());
      names.insert(names.end(), opt.images.begin(), opt.images.end());
    }
  }

  const std::vector<std::vector<Hit>> hits = searcher.search(rows, static_cast<std::size_t>(opt.top), opt.index_search);
  for (std::size_t q = 0; q < names.size(); ++q) {
    if (opt.json) {
      nlohmann::ordered_json j;
      j["query"] = names[q];
      j["results"] = nlohmann::json::array();
      for (const Hit& h : hits[q]) j["results"].push_back({{"file", files[h.row]}, {"score", h.score}});
      std::cout << j.dump() << '\n';
      continue;
    }
    std::cout << names[q] << '\n';
    for (std::size_t r = 0; r < hits[q].size(); ++r) {
      char score[32];
      std::snprintf(score, sizeof score, "%.4f", hits[q][r].score);
      std::cout << "  " << r + 1 << ". " << score << "  " << files[hits[q][r].row] << '\n';
    }
  }
  return 0;
}

}  // namespace cli
