// FAISS indexes over the embeddings of `clip embed` (`clip index build`, `clip search
// --index INDEX`): flat (exact), ivf-pq (compressed; its candidates re-ranked with the exact
// rows, read from the parts), hnsw (a graph over the rows). Inner product on unit rows, as
// the exact search. docs/COLLECTIONS.md has the layout and how to choose.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clip/collection.h"

namespace cli {

struct IndexBuildOptions {
  std::string source;  // a run's folder of parts, or an .npy of `clip embed --out X.npy`
  std::string out;     // X.faiss; its description goes beside it, X.faiss.json
  std::string type = "hnsw";
  int nlist = 0;             // ivf-pq: inverted lists (0: a power of two near 4 sqrt(rows))
  int pq = 0;                // ivf-pq: bytes per row (0: dim / 4, one per 4 dimensions)
  int hnsw_m = 32;           // hnsw: links per node
  int ef_construction = 80;  // hnsw: candidates while linking
  int threads = 0;           // 0: all this process may use
};
// Reads the rows one .npy at a time (an ivf-pq training sample first), never all of them.
void build_index(const IndexBuildOptions& options);

// Whether `path` names a FAISS index (X.faiss), not what `clip embed` wrote.
bool is_faiss_index(const std::string& path);

struct IndexSearchOptions {
  int nprobe = 0;   // ivf-pq: lists searched (0: nlist / 8)
  int ef = 128;     // hnsw: candidates kept while searching
  int rerank = 10;  // ivf-pq: candidates re-ranked exactly, per result
};

// One result: the row (of the embeddings, in order) and its inner product with the query.
struct Hit {
  std::size_t row;
  float score;
};

class VectorIndex {
 public:
  // Reads INDEX and its description, and the list of items of the embeddings it was built
  // from; a clip::Error when they changed since (build it again).
  explicit VectorIndex(const std::string& path);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  const clip::Embeddings& embeddings() const { return embeddings_; }
  // The `top` best rows for each of the unit rows `queries` [n, dim], best first. One
  // search at a time (the search options are set on the FAISS index).
  std::vector<std::vector<Hit>> search(const std::vector<float>& queries, std::size_t top,
                                       const IndexSearchOptions& options) const;

 private:
  struct State;
  std::string path_;
  clip::Embeddings embeddings_;
  std::unique_ptr<State> state_;
  mutable std::mutex mutex_;
};

// What --index names (clip search, clip serve): an .npy or a folder of parts, searched
// exactly with every row in memory, or a FAISS index.
class Searcher {
 public:
  explicit Searcher(const std::string& index);
  const clip::Embeddings& embeddings() const { return faiss_ ? faiss_->embeddings() : exact_; }
  // As VectorIndex::search; exact search ranks every row (ties keep the rows' order).
  std::vector<std::vector<Hit>> search(const std::vector<float>& queries, std::size_t top,
                                       const IndexSearchOptions& options = {}) const;

 private:
  clip::Embeddings exact_;
  std::unique_ptr<VectorIndex> faiss_;
};

}  // namespace cli
