// Embedding collections of images too big for one call: a run split into numbered parts
// (part-00000.npy + part-00000.jsonl), each written atomically, so that a run stopped at any
// moment resumes where it stopped; the same parts whether one process (`clip embed --out
// DIR`) or many machines (`python -m clip_cpp.distributed`) write them. The folder layout is
// in docs/COLLECTIONS.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "clip/export.h"
#include "clip/image.h"
#include "clip/model.h"
#include "clip/tensor.h"

namespace clip {

// One unit of work: one part of the output. Image files (up to the run's part size, in the
// order found), or one tar shard (the webdataset convention: members key.jpg, key.txt, ...
// grouped by key; the first image member of each key is embedded).
struct CLIP_API Shard {
  std::vector<std::string> files;  // absolute paths
  std::string tar;                 // absolute path, when the shard is a tar file
};

// What a run embeds, decided before any image is read, the same on every machine.
struct CLIP_API CollectionPlan {
  std::vector<Shard> shards;  // shard k writes part k
  // Entries found that cannot be images (a folder named x.png, a link that leads nowhere,
  // a FIFO): path and reason. Recorded in run.json and the manifest, never dropped.
  std::vector<std::pair<std::string, std::string>> skipped;
};

// Whether `path` names a tar shard (.tar, .tar.gz, .tgz) or a list of inputs (.txt: one
// path per line, relative to the list's folder; blank lines and lines starting with # are
// ignored).
CLIP_API bool is_tar_shard(const std::filesystem::path& path);
CLIP_API bool is_input_list(const std::filesystem::path& path);
// Whether `path` has an extension of a format Image::open reads (every extension Pillow
// registers for those formats).
CLIP_API bool has_image_extension(const std::filesystem::path& path);

// Image files found in `inputs`: files as given; folders walked for image files (sorted,
// links to folders never followed). What `clip classify`, `encode-image` and `embed` read.
struct CLIP_API FoundImages {
  std::vector<std::string> files;
  std::vector<std::pair<std::string, std::string>> skipped;  // path, reason
};
CLIP_API FoundImages find_images(const std::vector<std::string>& inputs);

// Inputs: image files, folders (walked for image files and tar shards, sorted, links to
// folders never followed), tar shards and input lists. Files are grouped into shards of
// `part_size` in input order; each tar shard is a shard of its own. A missing input is a
// clip::Error naming it.
CLIP_API CollectionPlan plan_collection(const std::vector<std::string>& inputs, std::size_t part_size);

// How parts are made.
struct CLIP_API PartOptions {
  int batch = 16;                // images per model call
  DType dtype = DType::Float32;  // of the .npy: Float32 or Float16
  ImageOptions image;
  // Threads that read, decode and preprocess the items in order for the model, which runs
  // on the caller's thread; 0: one per CPU this process may use. Where they and the
  // model's threads are more than the CPUs, they take turns with the model instead of
  // running beside it (docs/COLLECTIONS.md).
  int decode_threads = 0;
  // The CPUs this part may use; 0: all this process may use. Several processes sharing a
  // machine (Dask workers) pass their share, so that decoders and model take turns there.
  int cpus = 0;
  // Called on the caller's thread after each model call with the items finished so far in
  // this part (read, and embedded or failed).
  std::function<void(std::size_t items)> progress;
};

// What became of one item of a shard: a line of the part's .jsonl.
struct CLIP_API ItemRecord {
  std::string path;         // the image file, or the tar shard
  std::string key, member;  // tar samples: the sample's key and its image member
  std::uint64_t bytes = 0;  // size of the file or member
  std::string error;        // why it was not embedded; "" when it was
};

// The counts of one part, as its records say.
struct CLIP_API PartSummary {
  std::size_t items = 0;     // records
  std::size_t embedded = 0;  // rows of the .npy
  std::size_t failed = 0;    // records with status "error"
};

// One shard embedded, in memory: unit-length features [embedded, embed] float32 (rows in
// record order, for the records without error) and every item's record.
struct CLIP_API EmbeddedShard {
  Tensor features;
  std::vector<ItemRecord> records;
};
CLIP_API EmbeddedShard embed_shard(const Model& model, const Preprocess& preprocess, const Shard& shard,
                                   const PartOptions& options = {});

// "part-00007".
CLIP_API std::string part_name(std::size_t part);
// Whether part `part` is finished in `dir` (its .jsonl, written after its .npy, is there).
CLIP_API bool part_done(const std::filesystem::path& dir, std::size_t part);
// embed_shard, written as DIR/part-NNNNN.npy (options.dtype) and DIR/part-NNNNN.jsonl (one
// JSON object per record: path, key and member for tar samples, bytes, status "ok" with
// its row or "error" with the reason), each atomically, the .jsonl last. The same shard
// and options give the same bytes. Unreadable images and a damaged tar are records, never
// exceptions; a folder that cannot be written is a clip::Error.
CLIP_API PartSummary embed_part(const Model& model, const Preprocess& preprocess, const Shard& shard, std::size_t part,
                                const std::filesystem::path& dir, const PartOptions& options = {});

// The features of one fixed token sequence: two models with the same embedding size give
// different ones, so runs and indexes record them and searches compare.
CLIP_API std::vector<float> model_check(const Model& model);

// How runs and indexes record a model or configuration the user named: an existing file by
// its absolute, normalised path (found again from any folder, or by a Dask worker), a name
// ("ViT-B/32") as given.
CLIP_API std::string model_reference(const std::string& name);

// What a run is, DIR/run.json. Written by begin_run before the first part; a run started
// again into the same folder must describe the same work.
struct CLIP_API RunInfo {
  std::string model;   // model_reference of the user's --model
  std::string config;  // model_reference of the open_clip configuration file, if one was named
  std::string precision = "fp32";
  std::vector<float> check;
  DType dtype = DType::Float32;
  int batch = 16;
  std::size_t part_size = 0;
};
// Writes DIR/run.json (creating DIR), or checks that the one there describes the same model,
// options and plan (a clip::Error naming what differs).
CLIP_API void begin_run(const std::filesystem::path& dir, const CollectionPlan& plan, const RunInfo& info);
// Reads DIR/run.json and every part's records, and writes DIR/manifest.json: per part its
// counts and the SHA-256 of both files; the totals. A missing part is a clip::Error.
// Returns the totals.
CLIP_API PartSummary finish_run(const std::filesystem::path& dir);

// Embeddings and what each row is: an .npy written by `clip embed --out X.npy` (with X.json
// beside it) or a run's folder (every part, in order).
struct CLIP_API Embeddings {
  Tensor features;                 // float32 [N, embed], unit rows (empty when not read)
  std::int64_t dim = 0;            // embed
  std::vector<std::string> items;  // a file's path, or "SHARD.tar#MEMBER"
  std::string model, config;       // as recorded
  std::vector<float> check;        // model_check of the model that made them
  // Where the rows are: .npy files (float32 or float16 [rows, embed]) and how many rows
  // each holds, in order. Rows too many to load are read from there (clip::NpyFile).
  std::vector<std::filesystem::path> files;
  std::vector<std::size_t> file_rows;
};
// With `features` false, only the .npy headers are read (the rows stay on disk).
CLIP_API Embeddings read_embeddings(const std::filesystem::path& npy_or_dir, bool features = true);
// A clip::Error unless `model` made `embeddings` (same size, same model_check).
CLIP_API void check_embeddings(const Embeddings& embeddings, const std::string& where, const Model& model,
                               const std::string& model_name);

}  // namespace clip
