// The `clip` command-line tool: a thin layer over the public API in include/clip/.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "clip/clip.h"

namespace {

struct TokenizeOptions {
  int context_length = 77;
  bool truncate = false;
  bool jsonl = false;
  std::vector<std::string> texts;
};

void print_row(const clip::Tensor& rows, std::int64_t i) {
  const std::int64_t n = rows.size(1);
  const std::int32_t* p = rows.data<std::int32_t>() + i * n;
  std::string line;
  for (std::int64_t k = 0; k < n; ++k) {
    if (k) line += ' ';
    line += std::to_string(p[k]);
  }
  std::cout << line << '\n';
}

// --jsonl: one JSON string per input line -> one JSON array (or {"error": ...}) per line.
int tokenize_jsonl(const TokenizeOptions& opt) {
  std::string line;
  while (std::getline(std::cin, line)) {
    nlohmann::json out;
    try {
      const nlohmann::json in = nlohmann::json::parse(line);
      if (!in.is_string()) throw clip::Error("input line is not a JSON string");
      const clip::Tensor rows = clip::tokenize(in.get<std::string>(), opt.context_length, opt.truncate);
      out = rows.to_vector<std::int32_t>();
    } catch (const nlohmann::json::exception& e) {
      out = {{"error", std::string("invalid JSON: ") + e.what()}};
    } catch (const clip::Error& e) {
      out = {{"error", e.what()}};
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  return 0;
}

struct PreprocessOptions {
  std::string image;
  int size = 224;
  std::string out, uint8_out;
  bool exif = false;
};

int run_preprocess(const PreprocessOptions& opt) {
  clip::ImageOptions image_options;
  image_options.apply_exif_orientation = opt.exif;
  const clip::Image image = clip::Image::open(opt.image, image_options);
  const clip::Preprocess preprocess(opt.size);
  const clip::Image rgb = preprocess.resize_crop_rgb(image);
  clip::save_npy(opt.out, clip::Preprocess::to_float_tensor(rgb));
  if (!opt.uint8_out.empty()) clip::save_npy(opt.uint8_out, clip::Preprocess::to_uint8_tensor(rgb));
  return 0;
}

struct InspectOptions {
  std::string file;
  bool json = false;
};

int run_inspect(const InspectOptions& opt) {
  const clip::Checkpoint checkpoint = clip::Checkpoint::load(opt.file);
  const clip::ModelConfig config = checkpoint.config();
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(config.to_json());
  j["format"] = checkpoint.format();
  j["parameter_count"] = checkpoint.parameter_count();
  j["tensors"] = checkpoint.keys().size();
  j["dtypes"] = checkpoint.dtype_counts();
  if (opt.json) {
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << opt.file << " (" << checkpoint.format() << ")\n";
  for (const auto& [key, value] : j.items())
    if (key != "format") std::cout << "  " << key << ": " << value.dump() << '\n';
  return 0;
}

int run_models(const std::string& root) {
  clip::DownloadOptions options;
  options.root = root;
  for (const std::string& name : clip::available_models()) {
    const auto cached = clip::cached_model(name, options);
    std::cout << name << (cached.empty() ? "" : "  (cached: " + cached.string() + ")") << '\n';
  }
  return 0;
}

int run_download(const std::string& name, const std::string& root) {
  clip::DownloadOptions options;
  options.root = root;
  std::cout << clip::download_model(name, options).string() << '\n';
  return 0;
}

int run_tokenize(const TokenizeOptions& opt) {
  if (opt.jsonl) return tokenize_jsonl(opt);
  const clip::Tensor rows = clip::tokenize(opt.texts, opt.context_length, opt.truncate);
  for (std::int64_t i = 0; i < rows.size(0); ++i) print_row(rows, i);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"clip: OpenAI's CLIP in C++ (tokenizer, image preprocessing, encoders)", "clip"};
  app.require_subcommand(1);

  TokenizeOptions tok;
  CLI::App* tokenize = app.add_subcommand(
      "tokenize", "Print the CLIP token ids of each TEXT, one row per text, as clip.tokenize does");
  tokenize->add_option("--context-length", tok.context_length, "Row length (default 77)")
      ->check(CLI::NonNegativeNumber);
  tokenize->add_flag("--truncate", tok.truncate, "Cut texts that are too long instead of failing");
  tokenize->add_flag("--jsonl", tok.jsonl,
                     "Read one JSON string per line from stdin; write one JSON array, or "
                     "{\"error\": ...}, per line");
  tokenize->add_option("text", tok.texts, "Texts to tokenize");
  tokenize->callback([&] {
    if (!tok.jsonl && tok.texts.empty()) throw CLI::ValidationError("tokenize", "give at least one TEXT, or --jsonl");
  });

  PreprocessOptions pre;
  CLI::App* preprocess = app.add_subcommand(
      "preprocess", "Apply the reference preprocess (Resize, CenterCrop, RGB, Normalize) to IMAGE");
  preprocess->add_option("image", pre.image, "Image file (JPEG, PNG, GIF, WebP, BMP, TIFF)")->required();
  preprocess->add_option("--size", pre.size, "Output side n_px (default 224)")->check(CLI::PositiveNumber);
  preprocess->add_option("--out", pre.out, "Float32 tensor [3, N, N] as .npy")->required();
  preprocess->add_option("--uint8-out", pre.uint8_out,
                         "Also write the uint8 RGB image [N, N, 3] after resize and crop as .npy");
  preprocess->add_flag("--exif-orientation", pre.exif,
                       "Rotate the image upright by its EXIF orientation (the reference does not)");

  InspectOptions ins;
  CLI::App* inspect = app.add_subcommand(
      "inspect", "Show the model configuration inferred from a checkpoint (.pt or .safetensors)");
  inspect->add_option("file", ins.file, "Checkpoint file")->required();
  inspect->add_flag("--json", ins.json, "Print JSON");

  std::string models_root;
  CLI::App* models = app.add_subcommand("models", "List the official CLIP models and which are cached");
  models->add_option("--root", models_root, "Cache folder (default: ~/.cache/clip)");

  std::string download_name, download_root;
  CLI::App* download = app.add_subcommand(
      "download", "Download an official model into the cache (mirror: $CLIP_MIRROR) and print its path");
  download->add_option("name", download_name, "Model name, e.g. ViT-B/32")->required();
  download->add_option("--root", download_root, "Cache folder (default: ~/.cache/clip)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*tokenize) return run_tokenize(tok);
    if (*preprocess) return run_preprocess(pre);
    if (*inspect) return run_inspect(ins);
    if (*models) return run_models(models_root);
    if (*download) return run_download(download_name, download_root);
  } catch (const clip::Error& e) {
    std::cerr << "clip: error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "clip: internal error: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
