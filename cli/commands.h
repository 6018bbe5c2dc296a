// The `clip` tool (cli::run, in app.cpp and embed.cpp) and what its subcommands share.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clip/clip.h"
#include "vector_index.h"

namespace cli {

// The whole tool: parses argv (argv[0] is the program name) and runs the subcommand.
// Returns the exit status: 0, 1 for every error (one line on stderr), 2 for a bug.
int run(int argc, char** argv);

// The options every command that runs a model takes.
struct ModelOptions {
  std::string name;                // --model: built-in name, official name or checkpoint file
  int threads = 0;                 // --threads (0: all cores)
  std::string precision = "fp32";  // --precision fp32|bf16
  std::string config;              // --config: the model's open_clip_config.json (default: beside the file)
};

// How commands read their texts and images: --truncate where texts are tokenized,
// --exif-orientation where images are opened.
struct InputOptions {
  bool truncate = false;
  bool exif_orientation = false;
  clip::ImageOptions image_options() const {
    clip::ImageOptions o;
    o.apply_exif_orientation = exif_orientation;
    return o;
  }
};

// Opens an image file, or standard input for "-".
clip::Image open_image(const std::string& path, const InputOptions& input);
// The image at `path` ("-": standard input) decoded and preprocessed (a JPEG only as far as
// the crop needs: Preprocess's byte path).
clip::Tensor preprocess_image(const clip::Preprocess& preprocess, const std::string& path, const InputOptions& input);
// Writes features or tensors where --out says: "-" standard output (.npy bytes), *.jsonl
// one JSON array per row, anything else a .npy file (written atomically).
void write_output(const std::string& out, const clip::Tensor& tensor);

// clip::load with those options.
clip::Model load_model(const ModelOptions& options, clip::Preprocess* preprocess = nullptr);

// Unit-length text features [labels, embed] for each label: the prompts of every template
// ("a photo of a {}.") are embedded, normalised and averaged, then normalised again (the
// CLIP paper's prompt ensembling). No templates: the labels themselves are the prompts.
// `encode`: how the tokens reach the model (clip serve: its text batcher); by default
// model.encode_text.
using EncodeText = std::function<clip::Tensor(const clip::Tensor& tokens)>;
clip::Tensor label_features(const clip::Model& model, const std::vector<std::string>& labels,
                            const std::vector<std::string>& templates, bool truncate = false,
                            const EncodeText& encode = {});

// Indices of `scores`, highest first (ties keep their order).
std::vector<std::size_t> ranking(const std::vector<float>& scores);
// Columns `text` (UTF-8) takes in a terminal: East Asian wide and fullwidth characters
// two, combining marks none, others one. Tables align by it.
std::size_t display_width(std::string_view text);
// " (did you mean X?)" for the candidate within two edits of `word`, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// A small text file (labels, lists), regular files only.
std::string read_text_file(const std::string& path, const std::string& what);

struct EmbedOptions {
  ModelOptions model;
  InputOptions input;
  std::vector<std::string> inputs;  // image files, folders, tar shards, input lists (.txt)
  std::string out;                  // X.npy (X.json beside it lists the files), or a folder of parts
  int batch = 16;
  std::size_t part_size = 10000;  // images per part (--out DIR)
  std::string dtype = "float32";  // of the parts
  int decode_threads = 0;         // 0: the library's default
};
int run_embed(const EmbedOptions& opt);

struct SearchOptions {
  std::string index;    // what `clip embed` wrote (X.npy, a folder of parts) or `clip index build`
  ModelOptions model;   // name default: the model the index names (X.json or run.json)
  std::string vectors;  // queries as rows of an .npy instead (no model)
  IndexSearchOptions index_search;
  InputOptions input;
  std::vector<std::string> queries;  // texts
  std::vector<std::string> images;   // --image: image queries
  std::vector<std::string> templates;
  int top = 5;
  bool json = false;
};
int run_search(const SearchOptions& opt);

struct ServeOptions {
  ModelOptions model;
  InputOptions input;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (printed)
  int max_batch = 8;
  int max_wait_ms = 5;
  int max_queue = 64;
  int max_body_mb = 32;
  int timeout_ms = 30000;     // per request, queued and running
  int http_threads = 0;       // connection threads (0: max(8, 2 x max_batch))
  int io_timeout_ms = 10000;  // a client that sends or reads nothing for this long is dropped
  std::string index;          // a `clip embed` index: /v1/search, the search page, /v1/files/N
};
int run_serve(const ServeOptions& opt);

}  // namespace cli
