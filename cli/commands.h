// Subcommands of the `clip` tool that live outside main.cpp, and what they share.
#pragma once

#include <string>
#include <vector>

#include "clip/clip.h"

namespace cli {

// clip::load, then the thread count (0: all cores).
clip::Model load_model(const std::string& name_or_path, int threads, clip::Preprocess* preprocess = nullptr);

// Unit-length text features [labels, embed] for each label: the prompts of every template
// ("a photo of a {}.") are embedded, normalised and averaged, then normalised again (the
// CLIP paper's prompt ensembling). No templates: the labels themselves are the prompts.
clip::Tensor label_features(const clip::Model& model, const std::vector<std::string>& labels,
                            const std::vector<std::string>& templates);

// Dot products of the rows of a [n, d] and b [m, d] (cosine similarities for unit rows),
// row-major [n, m].
std::vector<float> similarity(const clip::Tensor& a, const clip::Tensor& b);
// Indices of `scores`, highest first (ties keep their order).
std::vector<std::size_t> ranking(const std::vector<float>& scores);

struct EmbedOptions {
  std::string model;
  std::vector<std::string> inputs;  // image files and folders
  std::string out;                  // embeddings.npy; embeddings.json beside it lists the files
  int batch = 16;
  int threads = 0;
};
int run_embed(const EmbedOptions& opt);

struct SearchOptions {
  std::string index;  // embeddings.npy written by `clip embed`
  std::string model;  // default: the model named in the index's .json
  std::vector<std::string> queries;
  std::vector<std::string> templates;
  int top = 5;
  bool json = false;
  int threads = 0;
};
int run_search(const SearchOptions& opt);

}  // namespace cli
