// A run's folder as a whole: run.json (what the run is), manifest.json (what it made), and
// reading embeddings back, from a run's folder or from one .npy with its .json.
#include <openssl/evp.h>
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "clip/atomic_file.h"
#include "clip/collection.h"
#include "clip/error.h"
#include "clip/models.h"
#include "clip/npy.h"
#include "core/hex.h"

namespace clip {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr const char* kFormat = "clip-cpp embedding parts 1";

json read_json(const fs::path& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path.string() + " (" + what + ")");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error("cannot read " + path.string() + ": " + e.what());
  }
}

// SHA-256 of the plan: the shards and their order, so that a run started again over a
// folder whose contents changed is refused instead of mixing two sets of parts.
std::string plan_hash(const CollectionPlan& plan) {
  std::string text;
  for (const Shard& s : plan.shards) {
    text += s.tar.empty() ? "files\n" : "tar\t" + s.tar + "\n";
    for (const std::string& f : s.files) text += "\t" + f + "\n";
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw Error("OpenSSL: cannot compute SHA-256");
  return core::hex(digest, len);
}

json skipped_json(const std::vector<std::pair<std::string, std::string>>& skipped) {
  json list = json::array();
  for (const auto& [path, reason] : skipped) list.push_back({{"path", path}, {"reason", reason}});
  return list;
}

// The records of one part, one JSON object per line.
std::vector<json> read_records(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path.string());
  std::vector<json> records;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    try {
      records.push_back(json::parse(line));
    } catch (const json::exception& e) {
      throw Error(path.string() + " line " + std::to_string(n) + ": " + e.what());
    }
  }
  return records;
}

bool is_ok(const json& record) { return record.value("status", "") == "ok"; }

// The legacy single-file index: X.npy and X.json ({"files", "model", "config", "model_check"}).
Embeddings read_npy_index(const fs::path& path, bool features) {
  Embeddings e;
  const NpyFile file(path);
  const Tensor::Shape& shape = file.shape();
  const fs::path list = fs::path(path).replace_extension(".json");
  const json j = read_json(list, "the file list `clip embed` writes beside the index");
  try {
    e.items = j.at("files").get<std::vector<std::string>>();
    e.model = j.value("model", std::string());
    e.config = j.value("config", std::string());
    if (j.contains("model_check")) e.check = j.at("model_check").get<std::vector<float>>();
  } catch (const json::exception& ex) {
    throw Error("cannot read " + list.string() + ": " + ex.what());
  }
  if (shape.size() != 2 || file.dtype() != DType::Float32 || shape[0] != static_cast<std::int64_t>(e.items.size()))
    throw Error(path.string() + " and " + list.string() + " do not match: " + std::string(dtype_name(file.dtype())) +
                " features " + Tensor::shape_string_of(shape) + " for " + std::to_string(e.items.size()) + " files");
  e.dim = shape[1];
  e.files = {fs::absolute(path)};
  e.file_rows = {e.items.size()};
  if (features) e.features = file.rows(0, shape[0]);
  return e;
}

}  // namespace

std::string model_reference(const std::string& name) {
  std::error_code ec;
  return fs::is_regular_file(name, ec) ? fs::absolute(name).lexically_normal().string() : name;
}

std::vector<float> model_check(const Model& model) {
  // Token ids 1..8, inside any vocabulary (fixture models have 1,000 tokens), not a text.
  const int n = model.context_length(), vocab = model.config().vocab_size;
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n), 0);
  for (int i = 0; i < std::min(8, n); ++i) ids[static_cast<std::size_t>(i)] = std::min(i + 1, vocab - 1);
  return normalize(model.encode_text(Tensor::from_vector({1, n}, ids))).to_vector<float>();
}

void begin_run(const fs::path& dir, const CollectionPlan& plan, const RunInfo& info) {
  json run;
  run["format"] = kFormat;
  run["model"] = info.model;
  run["config"] = info.config;
  run["precision"] = info.precision;
  run["model_check"] = info.check;
  run["dtype"] = dtype_name(info.dtype);
  run["batch"] = info.batch;
  run["part_size"] = info.part_size;
  run["parts"] = plan.shards.size();
  run["plan_sha256"] = plan_hash(plan);
  run["skipped"] = skipped_json(plan.skipped);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) throw Error("cannot make the folder " + dir.string() + (ec ? ": " + ec.message() : ""));
  const fs::path path = dir / "run.json";
  if (fs::exists(path, ec)) {
    const json old = read_json(path, "the description of the run in that folder");
    for (const char* key :
         {"format", "model", "config", "precision", "dtype", "batch", "part_size", "parts", "plan_sha256"}) {
      if (old.value(key, json()) == run[key]) continue;
      std::string why = std::string(key) + " " + old.value(key, json()).dump() + " there, " + run[key].dump() + " now";
      if (std::string(key) == "plan_sha256") why = "the inputs are not the same files in the same order";
      throw Error(dir.string() + " holds another run (" + why +
                  "): start it again with the same arguments, or write to another folder");
    }
    return;
  }
  write_atomically(path, [&](std::ostream& out) { out << run.dump(1) << '\n'; });
}

PartSummary finish_run(const fs::path& dir) {
  json manifest = read_json(dir / "run.json", "written when the run starts");
  const std::size_t parts = manifest.value("parts", std::size_t{0});
  PartSummary total;
  json list = json::array();
  for (std::size_t p = 0; p < parts; ++p) {
    const std::string name = part_name(p);
    if (!part_done(dir, p))
      throw Error(dir.string() + ": " + name + " is not finished (" + std::to_string(parts) +
                  " parts); run the same command again to finish it");
    PartSummary s;
    for (const json& r : read_records(dir / (name + ".jsonl"))) {
      ++s.items;
      (is_ok(r) ? s.embedded : s.failed) += 1;
    }
    const Tensor npy = load_npy(dir / (name + ".npy"));
    if (npy.dim() != 2 || npy.size(0) != static_cast<std::int64_t>(s.embedded))
      throw Error(dir.string() + ": " + name + ".npy holds " + npy.shape_string() + " for " +
                  std::to_string(s.embedded) + " embedded records");
    list.push_back({{"name", name},
                    {"items", s.items},
                    {"embedded", s.embedded},
                    {"failed", s.failed},
                    {"npy_sha256", sha256_file(dir / (name + ".npy"))},
                    {"jsonl_sha256", sha256_file(dir / (name + ".jsonl"))}});
    total.items += s.items;
    total.embedded += s.embedded;
    total.failed += s.failed;
  }
  manifest["part_list"] = list;
  manifest["items"] = total.items;
  manifest["embedded"] = total.embedded;
  manifest["failed"] = total.failed;
  write_atomically(dir / "manifest.json", [&](std::ostream& out) { out << manifest.dump(1) << '\n'; });
  // Temporary files of writers that were killed (write_atomically's NAME.tmpNNN): every
  // part is finished now, so no writer is left.
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(".tmp") != std::string::npos &&
        (name.rfind("part-", 0) == 0 || name.rfind("run.json", 0) == 0 || name.rfind("manifest.json", 0) == 0))
      fs::remove(it->path(), ec);
  }
  return total;
}

Embeddings read_embeddings(const fs::path& path, bool features) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return read_npy_index(path, features);
  const json run = read_json(path / "run.json", "what `clip embed --out DIR` writes first");
  Embeddings e;
  e.model = run.value("model", std::string());
  e.config = run.value("config", std::string());
  e.check = run.value("model_check", std::vector<float>());
  const std::size_t parts = run.value("parts", std::size_t{0});
  std::vector<float> all;
  e.dim = -1;
  for (std::size_t p = 0; p < parts; ++p) {
    const std::string name = part_name(p);
    if (!part_done(path, p))
      throw Error(path.string() + ": " + name + " is not finished; run `clip embed` again with the same arguments");
    const fs::path npy = fs::absolute(path / (name + ".npy"));
    const NpyFile file(npy);
    const Tensor::Shape& shape = file.shape();
    std::size_t ok = 0;
    for (const json& r : read_records(path / (name + ".jsonl"))) {
      if (!is_ok(r)) continue;
      ++ok;
      const std::string member = r.value("member", "");
      e.items.push_back(member.empty() ? r.value("path", "") : r.value("path", "") + "#" + member);
    }
    if (shape.size() != 2 || shape[0] != static_cast<std::int64_t>(ok) || (e.dim >= 0 && shape[1] != e.dim) ||
        (file.dtype() != DType::Float32 && file.dtype() != DType::Float16))
      throw Error(path.string() + ": " + name + ".npy holds " + dtype_name(file.dtype()) + " " +
                  Tensor::shape_string_of(shape) + " for " + std::to_string(ok) + " embedded records");
    e.dim = shape[1];
    e.files.push_back(npy);
    e.file_rows.push_back(ok);
    if (!features) continue;
    const std::vector<float> v = file.rows(0, shape[0]).to(DType::Float32).to_vector<float>();
    all.insert(all.end(), v.begin(), v.end());
  }
  if (e.dim < 0) throw Error(path.string() + " holds no parts");
  if (features) e.features = Tensor::from_vector({static_cast<std::int64_t>(e.items.size()), e.dim}, all);
  return e;
}

void check_embeddings(const Embeddings& e, const std::string& where, const Model& model,
                      const std::string& model_name) {
  if (e.dim != model.config().embed_dim)
    throw Error(where + " holds " + std::to_string(e.dim) + "-dim features but " + model_name + " embeds to " +
                std::to_string(model.config().embed_dim));
  if (e.check.empty()) return;
  // The same model gives the same features of the check text (to within precision: bf16
  // against fp32 stays above 0.99 cosine); another model does not.
  const std::vector<float> mine = model_check(model);
  double cosine = 0;
  for (std::size_t i = 0; i < mine.size() && i < e.check.size(); ++i) cosine += double(mine[i]) * e.check[i];
  if (e.check.size() != mine.size() || cosine < 0.99)
    throw Error(where + " was made with another model than " + model_name + " (it names " + e.model +
                "); search it with that model");
}

}  // namespace clip
