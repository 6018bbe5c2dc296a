// The `clip` command-line tool: a thin layer over the public API in include/clip/.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
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

struct EncodeOptions {
  std::string model;
  std::string input_npy;  // images [N,3,R,R] or tokens [N,77]
  std::vector<std::string> inputs;  // image files or texts
  std::string out;
  bool normalize = false;
  int threads = 0;
};

clip::Model load_model(const std::string& name_or_path, int threads, clip::Preprocess* preprocess = nullptr) {
  auto [model, pre] = clip::load(name_or_path);
  if (threads > 0) model.set_num_threads(threads);
  if (preprocess) *preprocess = pre;
  return model;
}

clip::Tensor preprocess_images(const std::vector<std::string>& files, const clip::Preprocess& preprocess) {
  std::vector<clip::Tensor> images;
  for (const std::string& f : files) images.push_back(preprocess(clip::Image::open(f)));
  return clip::stack(images);
}

int run_encode_image(const EncodeOptions& opt) {
  if (opt.input_npy.empty() == opt.inputs.empty()) throw clip::Error("give either --input-npy or IMAGE files");
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, opt.threads, &preprocess);
  const clip::Tensor images = opt.inputs.empty() ? clip::load_npy(opt.input_npy) : preprocess_images(opt.inputs, preprocess);
  const clip::Tensor features = model.encode_image(images);
  clip::save_npy(opt.out, opt.normalize ? clip::normalize(features) : features);
  return 0;
}

int run_encode_text(const EncodeOptions& opt) {
  if (opt.input_npy.empty() == opt.inputs.empty()) throw clip::Error("give either --tokens-npy or TEXT arguments");
  const clip::Model model = load_model(opt.model, opt.threads);
  const clip::Tensor tokens =
      opt.inputs.empty() ? clip::load_npy(opt.input_npy) : clip::tokenize(opt.inputs, model.context_length());
  const clip::Tensor features = model.encode_text(tokens);
  clip::save_npy(opt.out, opt.normalize ? clip::normalize(features) : features);
  return 0;
}

struct ClassifyOptions {
  std::string model;
  std::vector<std::string> images, labels;
  std::string template_text;
  bool json = false;
  int threads = 0;
};

int run_classify(const ClassifyOptions& opt) {
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, opt.threads, &preprocess);
  std::vector<std::string> prompts;
  for (const std::string& label : opt.labels) {
    std::string prompt = opt.template_text.empty() ? label : opt.template_text;
    if (const auto at = prompt.find("{}"); !opt.template_text.empty() && at != std::string::npos) prompt.replace(at, 2, label);
    prompts.push_back(prompt);
  }
  const clip::Tensor text = clip::tokenize(prompts, model.context_length());
  for (const std::string& file : opt.images) {
    const clip::Tensor image = clip::stack({preprocess(clip::Image::open(file))});
    const clip::Tensor probs = clip::softmax(model(image, text).first, -1);
    const std::vector<float> p = probs.to_vector<float>();
    if (opt.json) {
      nlohmann::ordered_json j;
      j["image"] = file;
      j["labels"] = opt.labels;
      j["probs"] = p;
      std::cout << j.dump() << '\n';
      continue;
    }
    std::vector<std::size_t> order(p.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
    std::size_t width = 0;
    for (const auto& l : opt.labels) width = std::max(width, l.size());
    std::cout << file << '\n';
    for (std::size_t i : order) {
      char prob[32];
      std::snprintf(prob, sizeof prob, "%.4f", p[i]);
      std::cout << "  " << opt.labels[i] << std::string(width - opt.labels[i].size() + 2, ' ') << prob << '\n';
    }
  }
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

  EncodeOptions enc_img, enc_txt;
  CLI::App* encode_image = app.add_subcommand("encode-image", "Write image features (float32 [N, embed]) as .npy");
  encode_image->add_option("--model", enc_img.model, "A name from `clip models`, or a checkpoint path")->required();
  encode_image->add_option("--input-npy", enc_img.input_npy, "Preprocessed images float32 [N, 3, R, R] (.npy)");
  encode_image->add_option("images", enc_img.inputs, "Image files (preprocessed as the reference does)");
  encode_image->add_option("--out", enc_img.out, "Output .npy")->required();
  encode_image->add_flag("--normalize", enc_img.normalize, "Write unit-length features");
  encode_image->add_option("--threads", enc_img.threads, "Threads (default: all cores)");

  CLI::App* encode_text = app.add_subcommand("encode-text", "Write text features (float32 [N, embed]) as .npy");
  encode_text->add_option("--model", enc_txt.model, "A name from `clip models`, or a checkpoint path")->required();
  encode_text->add_option("--tokens-npy", enc_txt.input_npy, "Token ids int32/int64 [N, 77] (.npy)");
  encode_text->add_option("texts", enc_txt.inputs, "Texts (tokenized as clip.tokenize does)");
  encode_text->add_option("--out", enc_txt.out, "Output .npy")->required();
  encode_text->add_flag("--normalize", enc_txt.normalize, "Write unit-length features");
  encode_text->add_option("--threads", enc_txt.threads, "Threads (default: all cores)");

  ClassifyOptions cls;
  CLI::App* classify = app.add_subcommand("classify", "Zero-shot classification: label probabilities for each image");
  classify->add_option("--model", cls.model, "A name from `clip models`, or a checkpoint path")->required();
  classify->add_option("images", cls.images, "Image files")->required();
  classify->add_option("--labels", cls.labels, "Candidate labels")->required();
  classify->add_option("--template", cls.template_text, "Prompt template, e.g. \"a photo of a {}.\" (default: the labels as given)");
  classify->add_flag("--json", cls.json, "One JSON object per image: {\"image\", \"labels\", \"probs\"}");
  classify->add_option("--threads", cls.threads, "Threads (default: all cores)");

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
    if (*encode_image) return run_encode_image(enc_img);
    if (*encode_text) return run_encode_text(enc_txt);
    if (*classify) return run_classify(cls);
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
