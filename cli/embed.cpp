// `clip embed`: many images -> unit-length features (.npy) plus the list of files (.json);
// `clip search`: ranks those images by a text query.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"

namespace cli {
namespace {

namespace fs = std::filesystem;

// The index's file list lives beside the array: embeddings.npy -> embeddings.json.
fs::path sidecar(const fs::path& npy) { return fs::path(npy).replace_extension(".json"); }

// Where a path is recorded in an index: absolute, so that `clip search` finds it (and
// prints usable paths) from any folder (issue #14).
std::string absolute_path(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }

// The model as recorded in an index: a checkpoint file by its absolute path, a name as is.
std::string model_reference(const std::string& name) {
  std::error_code ec;
  return fs::is_regular_file(name, ec) ? absolute_path(name) : name;
}

// A model's features of one fixed token sequence. Two models with the same embedding size
// give different ones, so an index records them and `clip search` compares (issue #14:
// another model of the same size was accepted and gave meaningless scores). Token ids
// 1..8, inside any vocabulary (fixture models have 1,000 tokens), not a tokenized text.
std::vector<float> model_check(const clip::Model& model) {
  const int n = model.context_length(), vocab = model.config().vocab_size;
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n), 0);
  for (int i = 0; i < std::min(8, n); ++i) ids[static_cast<std::size_t>(i)] = std::min(i + 1, vocab - 1);
  return clip::normalize(model.encode_text(clip::Tensor::from_vector({1, n}, ids))).to_vector<float>();
}

bool has_image_extension(const fs::path& p) {
  // Every extension Pillow registers for the formats the library decodes (issue #14:
  // .jfif, .mpo and others were skipped silently).
  static const std::set<std::string> known = {".jpg",  ".jpeg", ".jpe",  ".jfif", ".jif", ".mpo", ".png",
                                              ".apng", ".gif",  ".webp", ".bmp",  ".dib", ".tif", ".tiff"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return known.count(ext) != 0;
}

// What a folder entry that looks like an image but cannot be read as one is.
std::string why_not_a_file(const fs::file_status& target) {
  if (fs::is_directory(target)) return "it is a folder";
  if (fs::is_fifo(target)) return "it is a FIFO, not a regular file";
  if (fs::is_socket(target)) return "it is a socket, not a regular file";
  if (fs::is_block_file(target) || fs::is_character_file(target)) return "it is a device, not a regular file";
  return "not a regular file";
}

// Folders are walked by hand, never through links to folders (so a link loop cannot make
// the walk endless), and every entry with an image extension ends either in `files` or in
// `skipped` with its reason: dangling links, link loops, FIFOs, devices, folders named
// x.png and folders that cannot be listed are reported, not dropped (issue #15).
void walk_folder(const fs::path& dir, Inputs& out) {
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) out.skipped.emplace_back(dir.string(), "cannot list the folder: " + ec.message());
  for (const fs::directory_entry& entry : entries) {
    const fs::path& path = entry.path();
    const fs::file_status link = entry.symlink_status(ec);
    if (ec) {
      out.skipped.emplace_back(path.string(), ec.message());
      continue;
    }
    if (fs::is_directory(link)) {
      if (has_image_extension(path)) out.skipped.emplace_back(path.string(), "it is a folder");
      walk_folder(path, out);
      continue;
    }
    if (!has_image_extension(path)) continue;
    const fs::file_status target = fs::status(path, ec);
    if (fs::is_regular_file(target))
      out.files.push_back(path.string());
    else if (fs::is_symlink(link) && (ec || !fs::exists(target)))
      out.skipped.emplace_back(path.string(), "a link that leads nowhere (" + (ec ? ec.message() : "dangling") + ")");
    else if (ec)
      out.skipped.emplace_back(path.string(), ec.message());
    else
      out.skipped.emplace_back(path.string(), why_not_a_file(target));
  }
}

// "embed 120/1000  45.1 images/s  ETA 19 s" on stderr, redrawn in place, only on a terminal.
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), enabled_(isatty(STDERR_FILENO)) {}
  void update(std::size_t done) {
    if (!enabled_) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? done / seconds : 0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    std::fprintf(stderr, "\rembed %zu/%zu  %.1f images/s  ETA %.0f s   ", done, total_, rate, eta);
    if (done == total_) std::fputc('\n', stderr);
  }

 private:
  std::size_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

Inputs expand_inputs(const std::vector<std::string>& inputs) {
  Inputs all;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (!fs::is_directory(input, ec)) {
      all.files.push_back(input);  // a problem with it is reported when it is opened
      continue;
    }
    Inputs found;
    walk_folder(input, found);
    std::sort(found.files.begin(), found.files.end(),
              [](const std::string& a, const std::string& b) { return fs::path(a) < fs::path(b); });
    std::sort(found.skipped.begin(), found.skipped.end());
    all.files.insert(all.files.end(), found.files.begin(), found.files.end());
    all.skipped.insert(all.skipped.end(), found.skipped.begin(), found.skipped.end());
  }
  return all;
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw clip::Error("cannot read " + what + " " + path + ": it is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw clip::Error("cannot open " + what + " " + path);
  return {std::istreambuf_iterator<char>(in), {}};
}

int run_embed(const EmbedOptions& opt) {
  if (opt.batch < 1) throw clip::Error("--batch must be at least 1");
  // Before any work: a run must not end in "cannot write" (issue #14).
  const fs::path out_dir = fs::absolute(opt.out).parent_path();
  if (!fs::is_directory(out_dir))
    throw clip::Error("cannot write " + opt.out + ": folder " + out_dir.string() + " does not exist");
  if (access(out_dir.c_str(), W_OK) != 0)
    throw clip::Error("cannot write " + opt.out + ": folder " + out_dir.string() + " is not writable");
  Inputs inputs = expand_inputs(opt.inputs);
  const std::vector<std::string>& files = inputs.files;
  std::vector<std::pair<std::string, std::string>>& skipped = inputs.skipped;  // file, reason
  const std::size_t candidates = files.size() + skipped.size();
  if (files.empty()) {
    for (const auto& [file, reason] : skipped) std::cerr << "clip: warning: skipped " << file << ": " << reason << '\n';
    throw clip::Error("no image files found in the inputs");
  }
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, &preprocess);

  std::vector<clip::Tensor> features;
  std::vector<std::string> embedded;
  Progress progress(files.size());
  for (std::size_t begin = 0; begin < files.size(); begin += opt.batch) {
    const std::size_t end = std::min(files.size(), begin + opt.batch);
    std::vector<clip::Tensor> images;
    for (std::size_t i = begin; i < end; ++i) {
      try {
        images.push_back(preprocess(clip::Image::open(files[i], opt.input.image_options())));
        embedded.push_back(absolute_path(files[i]));
      } catch (const clip::Error& e) {
        skipped.emplace_back(files[i], e.what());
      }
    }
    if (!images.empty()) features.push_back(clip::normalize(model.encode_image(clip::stack(images))));
    progress.update(end);
  }
  for (const auto& [file, reason] : skipped) std::cerr << "clip: warning: skipped " << file << ": " << reason << '\n';
  if (embedded.empty()) throw clip::Error("none of the " + std::to_string(candidates) + " files could be read");

  std::vector<float> all;
  for (const clip::Tensor& f : features) {
    const auto v = f.to_vector<float>();
    all.insert(all.end(), v.begin(), v.end());
  }
  const std::int64_t count = static_cast<std::int64_t>(embedded.size());
  clip::save_npy(opt.out, clip::Tensor::from_vector({count, features.front().size(1)}, all));
  nlohmann::ordered_json index;
  index["model"] = model_reference(opt.model.name);
  if (!opt.model.config.empty()) index["config"] = std::filesystem::absolute(opt.model.config).string();
  index["model_check"] = model_check(model);
  index["files"] = embedded;
  index["skipped"] = nlohmann::json::array();
  for (const auto& [file, reason] : skipped) index["skipped"].push_back(file);
  clip::write_atomically(sidecar(opt.out), [&](std::ostream& out) { out << index.dump(1) << '\n'; });
  std::cerr << "clip: embedded " << count << " images"
            << (skipped.empty() ? "" : " (" + std::to_string(skipped.size()) + " unreadable, skipped)") << " -> "
            << opt.out << ", " << sidecar(opt.out).string() << '\n';
  return 0;
}

Index read_index(const std::string& path) {
  Index index;
  index.features = clip::load_npy(path);
  const fs::path list = sidecar(path);
  std::ifstream in(list);
  if (!in) throw clip::Error("cannot open " + list.string() + " (the file list `clip embed` writes beside the index)");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    index.files = j.at("files").get<std::vector<std::string>>();
    index.model = j.value("model", std::string());
    index.config = j.value("config", std::string());
    if (j.contains("model_check")) index.check = j.at("model_check").get<std::vector<float>>();
  } catch (const nlohmann::json::exception& e) {
    throw clip::Error("cannot read " + list.string() + ": " + e.what());
  }
  if (index.features.dim() != 2 || index.features.dtype() != clip::DType::Float32 ||
      index.features.size(0) != static_cast<std::int64_t>(index.files.size()))
    throw clip::Error(path + " and " + list.string() + " do not match: " + index.features.shape_string() +
                      " features for " + std::to_string(index.files.size()) + " files");
  return index;
}

void check_index(const Index& index, const std::string& path, const clip::Model& model, const std::string& model_name) {
  if (index.features.size(1) != model.config().embed_dim)
    throw clip::Error(path + " holds " + std::to_string(index.features.size(1)) + "-dim features but " + model_name +
                      " embeds to " + std::to_string(model.config().embed_dim));
  if (index.check.empty()) return;
  // The same model gives the same features of the check text (to within precision: bf16
  // against fp32 stays above 0.99 cosine); another model does not.
  const std::vector<float> mine = model_check(model);
  double cosine = 0;
  for (std::size_t i = 0; i < mine.size() && i < index.check.size(); ++i) cosine += double(mine[i]) * index.check[i];
  if (index.check.size() != mine.size() || cosine < 0.99)
    throw clip::Error(path + " was made with another model than " + model_name + " (" + sidecar(path).string() +
                      " names " + index.model + "); search it with that model");
}

int run_search(const SearchOptions& opt) {
  if (opt.top < 1) throw clip::Error("--top must be at least 1");
  if (opt.queries.empty() && opt.images.empty()) throw clip::Error("give a text QUERY or --image");
  const Index index = read_index(opt.index);
  const clip::Tensor& images = index.features;
  const std::vector<std::string>& files = index.files;
  ModelOptions model_options = opt.model;
  if (model_options.name.empty()) {
    model_options.name = index.model;
    if (model_options.config.empty()) model_options.config = index.config;
  }
  if (model_options.name.empty())
    throw clip::Error("give --model: " + sidecar(opt.index).string() + " does not name one");
  const std::string& model_name = model_options.name;
  clip::Preprocess preprocess;
  const clip::Model model = load_model(model_options, &preprocess);
  check_index(index, opt.index, model, model_name);

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
