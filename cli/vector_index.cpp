// FAISS indexes over a collection's embeddings: building one from the parts one .npy at a
// time, and searching it (vector_index.h).
#include "vector_index.h"

#include <dlfcn.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "clip/atomic_file.h"
#include "clip/error.h"
#include "clip/npy.h"
#include "commands.h"
#include "progress.h"

namespace cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr const char* kFormat = "clip-faiss-index/1";

// The description beside the index: photos.faiss -> photos.faiss.json (not photos.json,
// which is the file list of a photos.npy of `clip embed`).
fs::path description_of(const fs::path& index) { return fs::path(index).concat(".json"); }

// Inner products for HNSW. Debian's FAISS is built for any x86-64 and computes them one
// float at a time (fvec_inner_product_ref: 89% of an HNSW build, by perf); the same sum
// in blocks of 16, compiled for each ISA and picked at run time, builds HNSW 5x faster
// (20,000 random 512-d rows, M 16, one thread: 9.2 s against 49 s, AVX-512).
__attribute__((target_clones("avx512f", "avx2", "default"))) float dot(const float* a, const float* b, std::size_t d) {
  float sums[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16)
    for (std::size_t j = 0; j < 16; ++j) sums[j] += a[i + j] * b[i + j];
  float total = 0;
  for (; i < d; ++i) total += a[i] * b[i];
  for (float s : sums) total += s;
  return total;
}

struct InnerProducts : faiss::DistanceComputer {
  const float* rows = nullptr;
  std::size_t d = 0;
  const float* query = nullptr;
  void set_query(const float* x) override { query = x; }
  float operator()(std::int64_t i) override { return dot(query, rows + i * d, d); }
  float symmetric_dis(std::int64_t i, std::int64_t j) override { return dot(rows + i * d, rows + j * d, d); }
};

// IndexFlatIP whose distance computer (what HNSW uses) is `dot`. Written and read as a
// plain IndexFlatIP: the file is FAISS's own format.
struct FastFlatIP : faiss::IndexFlatIP {
  using faiss::IndexFlatIP::IndexFlatIP;
  faiss::DistanceComputer* get_distance_computer() const override {
    auto* c = new InnerProducts;
    c->rows = get_xb();
    c->d = static_cast<std::size_t>(d);
    return c;
  }
};

// HNSW over FastFlatIP storage (replacing the plain storage FAISS made or read). The rows
// move over rather than being copied: a loaded index of a million 512-d rows holds 2 GB of
// them (a copy doubled the peak memory of `clip search`, 4.1 GB, and added 6 s to its 23 s).
void use_fast_storage(faiss::IndexHNSWFlat& index) {
  auto* old = dynamic_cast<faiss::IndexFlat*>(index.storage);
  if (old == nullptr || !index.own_fields) throw clip::Error("FAISS: an HNSW index without its own flat storage");
  auto fast = std::make_unique<FastFlatIP>(index.d);
  fast->codes = std::move(old->codes);
  fast->ntotal = old->ntotal;
  old->ntotal = 0;
  delete index.storage;
  index.storage = fast.release();
}

// FAISS calls BLAS from its own OpenMP threads, and OpenBLAS (Debian's usual BLAS) starts
// threads of its own besides, which spin against them: training ivf-pq on 20,000 rows took
// 58 s so, 33 s with OpenBLAS on one thread. Other BLAS libraries have no such call.
void one_blas_thread() {
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

// FAISS's errors are std::exceptions; the tool reports them as clip::Error (exit 1).
template <typename F>
auto faiss_call(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const faiss::FaissException& e) {
    throw clip::Error(what + ": FAISS: " + e.what());
  }
}

// A power of two near 4 sqrt(rows) (FAISS's guide: 4 to 16 sqrt(rows) lists), with at
// least 39 rows per list to train on (what its k-means asks for).
int default_nlist(std::size_t rows) {
  const double target = 4 * std::sqrt(static_cast<double>(rows));
  int nlist = 1;
  while (nlist * 2 <= target && static_cast<std::size_t>(nlist) * 2 * 39 <= rows) nlist *= 2;
  return nlist;
}

// What makes the embeddings these ones: per .npy its path and rows, and, for a run's
// folder, the SHA-256 of each part that its manifest lists.
json fingerprint(const clip::Embeddings& e, const fs::path& source) {
  json files = json::array();
  for (std::size_t i = 0; i < e.files.size(); ++i)
    files.push_back({{"npy", e.files[i].string()}, {"rows", e.file_rows[i]}});
  json f = {{"rows", e.items.size()}, {"dim", e.dim}, {"files", files}};
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    const fs::path manifest = source / "manifest.json";
    std::ifstream in(manifest);
    if (!in)
      throw clip::Error(source.string() +
                        " has no manifest.json: its run is not finished (run the same `clip embed` again)");
    try {
      const json parsed = json::parse(in);
      json sums = json::array();
      for (const auto& part : parsed.at("part_list")) sums.push_back(part.at("npy_sha256"));
      f["npy_sha256"] = sums;
    } catch (const json::exception& ex) {
      throw clip::Error("cannot read " + manifest.string() + ": " + ex.what());
    }
  }
  return f;
}

// Rows of the embeddings as float32, one .npy at a time, in chunks of at most `chunk` rows.
template <typename F>
void for_each_rows(const clip::Embeddings& e, std::size_t chunk, F&& f) {
  std::size_t first = 0;
  for (std::size_t i = 0; i < e.files.size(); ++i) {
    const clip::NpyFile file(e.files[i]);
    for (std::size_t begin = 0; begin < e.file_rows[i]; begin += chunk) {
      const std::size_t n = std::min(chunk, e.file_rows[i] - begin);
      const clip::Tensor rows = file.rows(static_cast<std::int64_t>(begin), static_cast<std::int64_t>(n));
      f(first + begin, n, rows.to(clip::DType::Float32).to_vector<float>());
    }
    first += e.file_rows[i];
  }
}

}  // namespace

bool is_faiss_index(const std::string& path) { return fs::path(path).extension() == ".faiss"; }

void build_index(const IndexBuildOptions& opt) {
  const fs::path out = opt.out;
  if (!is_faiss_index(opt.out))
    throw clip::Error("--out " + opt.out + ": name the index X.faiss (its description goes beside it as X.faiss.json)");
  std::error_code ec;
  if (fs::is_directory(out, ec)) throw clip::Error("--out " + opt.out + " is a folder");
  const fs::path folder = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, ec)) throw clip::Error("--out " + opt.out + ": no folder " + folder.string());
  if (opt.threads < 0) throw clip::Error("--threads must be positive");
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  one_blas_thread();
  const clip::Embeddings e = clip::read_embeddings(opt.source, false);
  const std::size_t rows = e.items.size();
  const int d = static_cast<int>(e.dim);
  if (rows == 0) throw clip::Error(opt.source + " holds no embeddings to index");
  json params = json::object();
  std::unique_ptr<faiss::Index> index;
  faiss::IndexIVFPQ* ivf = nullptr;
  if (opt.type == "flat") {
    index = std::make_unique<faiss::IndexFlatIP>(d);
  } else if (opt.type == "hnsw") {
    if (opt.hnsw_m < 2 || opt.ef_construction < 1) throw clip::Error("--m must be at least 2, --ef-construction 1");
    auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(d, opt.hnsw_m, faiss::METRIC_INNER_PRODUCT);
    hnsw->hnsw.efConstruction = opt.ef_construction;
    use_fast_storage(*hnsw);
    params = {{"m", opt.hnsw_m}, {"ef_construction", opt.ef_construction}};
    index = std::move(hnsw);
  } else if (opt.type == "ivf-pq") {
    const int nlist = opt.nlist > 0 ? opt.nlist : default_nlist(rows);
    const int pq = opt.pq > 0 ? opt.pq : std::max(1, d / 4);
    if (d % pq != 0)
      throw clip::Error("--pq " + std::to_string(pq) + " must divide the " + std::to_string(d) + " dimensions");
    if (static_cast<std::size_t>(nlist) > rows)
      throw clip::Error("--nlist " + std::to_string(nlist) + " is more than the " + std::to_string(rows) + " rows");
    // 8 bits per code (256 centroids per sub-vector) where there are rows enough to train them.
    int bits = 8;
    while (bits > 1 && (std::size_t{1} << bits) > rows) --bits;
    auto* quantizer = new faiss::IndexFlatIP(d);
    auto pq_index = faiss_call("ivf-pq", [&] {
      return std::make_unique<faiss::IndexIVFPQ>(quantizer, d, nlist, pq, bits, faiss::METRIC_INNER_PRODUCT);
    });
    pq_index->own_fields = true;
    // FAISS's polysemous training (on by default) re-orders the codes for Hamming
    // filtering, which the search here does not use, and it took minutes here.
    pq_index->do_polysemous_training = false;
    ivf = pq_index.get();
    params = {{"nlist", nlist}, {"pq", pq}, {"bits", bits}};
    index = std::move(pq_index);
  } else {
    throw clip::Error("--type is flat, ivf-pq or hnsw, not " + opt.type);
  }

  if (ivf != nullptr) {
    // A sample spread over every part: at least 20,000 rows (PQ's 256 centroids want 39
    // rows each), 40 per list. It is the only time more than one part is in memory.
    const std::size_t want = std::min(rows, std::max<std::size_t>(20000, 40 * static_cast<std::size_t>(ivf->nlist)));
    const std::size_t stride = rows / want;
    std::vector<float> sample;
    sample.reserve(want * static_cast<std::size_t>(d));
    for_each_rows(e, 10000, [&](std::size_t first, std::size_t n, const std::vector<float>& v) {
      for (std::size_t r = 0; r < n; ++r)
        if ((first + r) % stride == 0 && sample.size() < want * static_cast<std::size_t>(d))
          sample.insert(sample.end(), v.begin() + r * d, v.begin() + (r + 1) * d);
    });
    std::cerr << "training ivf-pq (" << ivf->nlist << " lists, " << ivf->pq.M << " bytes per row) on "
              << sample.size() / d << " rows\n";
    faiss_call("ivf-pq training", [&] { ivf->train(static_cast<std::int64_t>(sample.size() / d), sample.data()); });
    params["train_rows"] = sample.size() / d;
  }

  Progress progress("index", "rows", rows);
  for_each_rows(e, 10000, [&](std::size_t first, std::size_t n, const std::vector<float>& v) {
    faiss_call("adding rows", [&] { index->add(static_cast<std::int64_t>(n), v.data()); });
    progress.update(first + n);
  });

  // The index, then its description, each through a temporary file: a search never
  // pairs a new index with an old description unnoticed (the size is recorded).
  const fs::path tmp = fs::path(out).concat(".tmp");
  faiss_call("writing " + opt.out, [&] { faiss::write_index(index.get(), tmp.c_str()); });
  fs::rename(tmp, out, ec);
  if (ec) throw clip::Error("cannot write " + opt.out + ": " + ec.message());
  json desc;
  desc["format"] = kFormat;
  desc["type"] = opt.type;
  desc["params"] = params;
  desc["faiss"] = std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
                  std::to_string(FAISS_VERSION_PATCH);
  desc["index_bytes"] = fs::file_size(out);
  desc["embeddings"] = fs::absolute(opt.source).lexically_normal().string();
  desc["source"] = fingerprint(e, opt.source);
  clip::write_atomically(description_of(out), [&](std::ostream& o) { o << desc.dump(1) << '\n'; });
}

struct VectorIndex::State {
  std::unique_ptr<faiss::Index> index;
  std::string type;
  int nlist = 0;
  mutable std::vector<std::unique_ptr<clip::NpyFile>> files;  // opened when first re-ranked from
  std::vector<std::size_t> first_row;                         // of each file
};

VectorIndex::VectorIndex(const std::string& path) : path_(path), state_(std::make_unique<State>()) {
  const fs::path desc_path = description_of(path);
  std::ifstream in(desc_path);
  if (!in) throw clip::Error(path + " is not an index of `clip index build` (no " + desc_path.string() + " beside it)");
  json desc;
  std::string source;
  try {
    desc = json::parse(in);
    if (desc.value("format", "") != kFormat) throw clip::Error(desc_path.string() + " is not a clip index description");
    state_->type = desc.at("type").get<std::string>();
    source = desc.at("embeddings").get<std::string>();
    if (state_->type == "ivf-pq") state_->nlist = desc.at("params").at("nlist").get<int>();
  } catch (const json::exception& ex) {
    throw clip::Error("cannot read " + desc_path.string() + ": " + ex.what());
  }
  std::error_code ec;
  if (desc.value("index_bytes", std::uintmax_t{0}) != fs::file_size(path, ec) || ec)
    throw clip::Error(path + " is not the index " + desc_path.string() + " describes; build it again");
  embeddings_ = clip::read_embeddings(source, false);
  if (fingerprint(embeddings_, source) != desc.at("source"))
    throw clip::Error(source + " changed since " + path + " was built from it; build the index again");
  // FAISS's reader trusts its files (as pickle does): indexes are the user's own, built here.
  state_->index.reset(faiss_call("reading " + path, [&] { return faiss::read_index(path.c_str()); }));
  if (state_->index->ntotal != static_cast<std::int64_t>(embeddings_.items.size()) ||
      state_->index->d != embeddings_.dim)
    throw clip::Error(path + " does not hold the rows of " + source + "; build it again");
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(state_->index.get())) use_fast_storage(*hnsw);
  std::size_t first = 0;
  for (std::size_t rows : embeddings_.file_rows) {
    state_->first_row.push_back(first);
    first += rows;
  }
  state_->files.resize(embeddings_.files.size());
  one_blas_thread();  // once, not per search
}

VectorIndex::~VectorIndex() = default;

std::vector<std::vector<Hit>> VectorIndex::search(const std::vector<float>& queries, std::size_t top,
                                                  const IndexSearchOptions& options) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const std::size_t d = static_cast<std::size_t>(embeddings_.dim), n = queries.size() / d;
  faiss::Index& index = *state_->index;
  top = std::min<std::size_t>(top, static_cast<std::size_t>(index.ntotal));
  std::size_t candidates = top;
  if (auto* ivf = dynamic_cast<faiss::IndexIVFPQ*>(&index)) {
    if (options.nprobe < 0 || options.rerank < 1) throw clip::Error("--nprobe and --rerank must be positive");
    ivf->nprobe = static_cast<std::size_t>(options.nprobe > 0 ? options.nprobe : std::max(1, state_->nlist / 8));
    candidates = std::min<std::size_t>(top * static_cast<std::size_t>(options.rerank), index.ntotal);
  } else if (auto* hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(&index)) {
    if (options.ef < 1) throw clip::Error("--ef must be positive");
    hnsw->hnsw.efSearch = std::max<int>(options.ef, static_cast<int>(top));
  }
  std::vector<float> scores(n * candidates);
  std::vector<std::int64_t> rows(n * candidates);
  faiss_call("searching " + path_, [&] {
    index.search(static_cast<std::int64_t>(n), queries.data(), static_cast<std::int64_t>(candidates), scores.data(),
                 rows.data());
  });
  std::vector<std::vector<Hit>> hits(n);
  for (std::size_t q = 0; q < n; ++q) {
    std::vector<Hit>& h = hits[q];
    for (std::size_t c = 0; c < candidates; ++c)
      if (rows[q * candidates + c] >= 0)
        h.push_back({static_cast<std::size_t>(rows[q * candidates + c]), scores[q * candidates + c]});
    if (candidates > top) {
      // ivf-pq: PQ's scores are approximate; the exact rows decide the order.
      for (Hit& hit : h) {
        const auto it = std::upper_bound(state_->first_row.begin(), state_->first_row.end(), hit.row) - 1;
        const std::size_t f = static_cast<std::size_t>(it - state_->first_row.begin());
        if (!state_->files[f]) state_->files[f] = std::make_unique<clip::NpyFile>(embeddings_.files[f]);
        const std::vector<float> row = state_->files[f]
                                           ->rows(static_cast<std::int64_t>(hit.row - *it), 1)
                                           .to(clip::DType::Float32)
                                           .to_vector<float>();
        hit.score = dot(&queries[q * d], row.data(), d);
      }
      std::stable_sort(h.begin(), h.end(), [](const Hit& a, const Hit& b) { return a.score > b.score; });
      if (h.size() > top) h.resize(top);
    }
  }
  return hits;
}

Searcher::Searcher(const std::string& index) {
  if (is_faiss_index(index))
    faiss_ = std::make_unique<VectorIndex>(index);
  else
    exact_ = clip::read_embeddings(index);
}

std::vector<std::vector<Hit>> Searcher::search(const std::vector<float>& queries, std::size_t top,
                                               const IndexSearchOptions& options) const {
  if (faiss_) return faiss_->search(queries, top, options);
  const std::int64_t n = static_cast<std::int64_t>(queries.size()) / exact_.dim;
  const std::size_t rows = exact_.items.size();
  top = std::min(top, rows);
  const std::vector<float> scores =
      clip::cosine_similarity(clip::Tensor::from_vector({n, exact_.dim}, queries), exact_.features).to_vector<float>();
  std::vector<std::vector<Hit>> hits(static_cast<std::size_t>(n));
  for (std::size_t q = 0; q < hits.size(); ++q) {
    const std::vector<std::size_t> order =
        ranking(std::vector<float>(scores.begin() + q * rows, scores.begin() + (q + 1) * rows));
    for (std::size_t r = 0; r < top; ++r) hits[q].push_back({order[r], scores[q * rows + order[r]]});
  }
  return hits;
}

}  // namespace cli
