// The `clip` command-line tool (cli::run): a thin layer over the public API in include/clip/
#include <unicode/uchar.h>
#include <unicode/utf8.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "clip/clip.h"
#include "commands.h"

namespace cli {

clip::Model load_model(const ModelOptions& options, clip::Preprocess* preprocess) {
  auto [model, pre] = clip::load(options.name, clip::default_device(), false, {},
                                 clip::parse_precision(options.precision), options.config);
  if (options.threads > 0) model.set_num_threads(options.threads);
  if (preprocess) *preprocess = pre;
  return model;
}

std::vector<std::size_t> ranking(const std::vector<float>& scores) {
  std::vector<std::size_t> order(scores.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  return order;
}

clip::Tensor label_features(const clip::Model& model, const std::vector<std::string>& labels,
                            const std::vector<std::string>& templates, bool truncate, const EncodeText& encode) {
  const auto features = [&](const std::vector<std::string>& prompts) {
    const clip::Tensor tokens = clip::tokenize(prompts, model.context_length(), truncate);
    return clip::normalize(encode ? encode(tokens) : model.encode_text(tokens));
  };
  if (templates.empty()) return features(labels);
  std::vector<std::string> prompts;  // label-major: label 0 with every template, label 1 ...
  for (const std::string& label : labels)
    for (const std::string& t : templates) {
      const auto at = t.find("{}");
      if (at == std::string::npos) throw clip::Error("template \"" + t + "\" has no {} for the label");
      prompts.push_back(std::string(t).replace(at, 2, label));
    }
  const clip::Tensor each = features(prompts);
  const std::int64_t k = static_cast<std::int64_t>(templates.size()), d = each.size(1);
  clip::Tensor mean({static_cast<std::int64_t>(labels.size()), d}, clip::DType::Float32);
  for (std::int64_t l = 0; l < mean.size(0); ++l)
    for (std::int64_t c = 0; c < d; ++c) {
      float sum = 0;
      for (std::int64_t t = 0; t < k; ++t) sum += each.data<float>()[(l * k + t) * d + c];
      mean.data<float>()[l * d + c] = sum / k;
    }
  return clip::normalize(mean);
}

namespace {
std::vector<std::uint8_t> standard_input() { return {std::istreambuf_iterator<char>(std::cin), {}}; }
}  // namespace

clip::Image open_image(const std::string& path, const InputOptions& input) {
  if (path != "-") return clip::Image::open(path, input.image_options());
  return clip::Image::decode(standard_input(), "<standard input>", input.image_options());
}

clip::Tensor preprocess_image(const clip::Preprocess& preprocess, const std::string& path, const InputOptions& input) {
  if (path != "-") return preprocess(std::filesystem::path(path), input.image_options());
  return preprocess(standard_input(), "<standard input>", input.image_options());
}

void write_output(const std::string& out, const clip::Tensor& tensor) {
  if (out == "-") {
    clip::write_npy(std::cout, tensor);
    std::cout.flush();
    if (!std::cout) throw clip::Error("cannot write to standard output");
    return;
  }
  if (!std::string_view(out).ends_with(".jsonl")) return clip::save_npy(out, tensor);
  // One line per row of the first dimension (a tensor without one is one row).
  const std::int64_t n = tensor.dim() == 0 ? 1 : tensor.size(0);
  const std::vector<float> values = tensor.to(clip::DType::Float32).to_vector<float>();
  const std::size_t width = n > 0 ? values.size() / static_cast<std::size_t>(n) : 0;
  clip::write_atomically(out, [&](std::ostream& file) {
    for (std::size_t r = 0; r < static_cast<std::size_t>(n); ++r)
      file << nlohmann::json(std::vector<float>(values.begin() + r * width, values.begin() + (r + 1) * width)).dump()
           << '\n';
  });
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  std::int32_t i = 0;
  const auto n = static_cast<std::int32_t>(text.size());
  while (i < n) {
    UChar32 c;
    U8_NEXT(text.data(), i, n, c);
    if (c < 0)
      ++width;  // invalid UTF-8: a replacement character's column
    else if (u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH) == U_EA_WIDE ||
             u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH) == U_EA_FULLWIDTH)
      width += 2;
    else if (u_charType(c) != U_NON_SPACING_MARK && u_charType(c) != U_ENCLOSING_MARK && c != 0x200B)
      width += 1;
  }
  return width;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;  // more than two edits away is no suggestion
  for (const std::string& c : candidates) {
    // Levenshtein distance, one row at a time.
    std::vector<std::size_t> row(c.size() + 1);
    for (std::size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= c.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (word[i - 1] == c[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    if (row[c.size()] < best_distance) best_distance = row[c.size()], best = c;
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

}  // namespace cli

namespace {

using cli::load_model;

// An integer option's range, with a message a person reads: "--top: must be at least 1,
// got 0" (CLI11's own range check printed "Value 0 not in range 0.000000 to 1.79e308").
CLI::Validator in_range(long long lo, long long hi = std::numeric_limits<int>::max()) {
  return CLI::Validator(
      [lo, hi](std::string& value) -> std::string {
        long long v = 0;
        std::size_t used = 0;
        try {
          v = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != value.size() || value.empty()) return "must be a whole number, got " + value;
        if (v < lo) return "must be at least " + std::to_string(lo) + ", got " + value;
        if (v > hi) return "must be at most " + std::to_string(hi) + ", got " + value;
        return "";
      },
      "INT");
}

// --model, --threads and --precision, as every command that runs a model takes them.
void add_model_options(CLI::App& command, cli::ModelOptions& options, bool model_required = true) {
  CLI::Option* model = command.add_option(
      "--model", options.name,
      model_required ? "A built-in model (demo-shapes), an official name from `clip models` (downloaded on first "
                       "use), or a checkpoint file"
                     : "Model for the queries (default: the one the index was made with)");
  if (model_required) model->required();
  command.add_option("--threads", options.threads, "Threads (default: all cores)")->check(in_range(1));
  command.add_option("--config", options.config,
                     "The model's open_clip_config.json (default: the one beside the checkpoint, if any)");
  command
      .add_option("--precision", options.precision,
                  "fp32 (default, as the reference) or bf16 (faster on CPUs with AVX-512 BF16, cosine >= 0.999 "
                  "to fp32)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

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

// --truncate and --exif-orientation, on the commands that read texts and images.
void add_text_options(CLI::App& command, cli::InputOptions& input) {
  command.add_flag("--truncate", input.truncate, "Cut texts that are too long for the context instead of failing");
}
void add_image_options(CLI::App& command, cli::InputOptions& input) {
  command.add_flag("--exif-orientation", input.exif_orientation,
                   "Turn images upright by their EXIF Orientation tag (the reference does not)");
}

struct PreprocessOptions {
  std::string image;
  std::string model;   // its transform (input resolution, open_clip's preprocess_cfg), instead of --size
  std::string config;  // the model's open_clip_config.json
  int size = 224;
  std::string resize_mode = "shortest", interpolation = "bicubic";  // open_clip's preprocess_cfg
  std::string out, uint8_out;
  cli::InputOptions input;
};

int run_preprocess(const PreprocessOptions& opt) {
  const clip::Image image = cli::open_image(opt.image, opt.input);
  clip::PreprocessConfig config;
  config.size = opt.size;
  config.resize_mode = opt.resize_mode;
  config.interpolation = opt.interpolation;
  clip::Preprocess preprocess(config);
  if (!opt.model.empty()) load_model({opt.model, 0, "fp32", opt.config}, &preprocess);
  const clip::Image rgb = preprocess.resize_crop_rgb(image);
  cli::write_output(opt.out, clip::Preprocess::to_float_tensor(rgb, preprocess.config().mean, preprocess.config().std));
  if (!opt.uint8_out.empty()) cli::write_output(opt.uint8_out, clip::Preprocess::to_uint8_tensor(rgb));
  return 0;
}

struct InspectOptions {
  std::string file;
  std::string config;
  bool json = false;
};

int run_inspect(const InspectOptions& opt) {
  const clip::Checkpoint checkpoint = clip::load_checkpoint(opt.file, {}, opt.config);
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

int run_models(const std::string& root, bool json, bool all) {
  clip::DownloadOptions options;
  options.root = root;
  for (const std::string& name : clip::available_models()) {
    const auto cached = clip::cached_model(name, options);
    if (json)
      std::cout << nlohmann::json{{"name", name},
                                  {"kind", "official"},
                                  {"cached", cached.empty() ? nlohmann::json() : nlohmann::json(cached.string())}}
                       .dump()
                << '\n';
    else
      std::cout << name << (cached.empty() ? "" : "  (cached: " + cached.string() + ")") << '\n';
  }
  for (const std::string& name : clip::builtin_models()) {
    if (json)
      std::cout << nlohmann::json{{"name", name}, {"kind", "built-in"}, {"cached", nullptr}}.dump() << '\n';
    else
      std::cout << name << "  (built in, no download)\n";
  }
  if (all)
    for (const std::string& name : clip::open_clip_models()) {
      if (json)
        std::cout << nlohmann::json{{"name", name}, {"kind", "open_clip"}, {"cached", nullptr}}.dump() << '\n';
      else
        std::cout << name << "  (open_clip)\n";
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
  cli::ModelOptions model;
  cli::InputOptions input;
  std::string input_npy;            // images [N,3,R,R] or tokens [N,77]
  std::vector<std::string> inputs;  // image files or texts
  std::string out;
  bool normalize = false;
};

clip::Tensor preprocess_images(const std::vector<std::string>& files, const clip::Preprocess& preprocess,
                               const cli::InputOptions& options) {
  std::vector<clip::Tensor> images;
  for (const std::string& f : files) images.push_back(cli::preprocess_image(preprocess, f, options));
  return clip::stack(images);
}

int run_encode_image(const EncodeOptions& opt) {
  if (opt.input_npy.empty() == opt.inputs.empty()) throw clip::Error("give either --input-npy or IMAGE files");
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, &preprocess);
  // Folders are searched as `clip embed` does; the rows follow the files in that order, so
  // every one must be readable (embed is the command that skips).
  const clip::FoundImages inputs = clip::find_images(opt.inputs);
  if (!inputs.skipped.empty())
    throw clip::Error("cannot read " + inputs.skipped[0].first + ": " + inputs.skipped[0].second +
                      " (encode-image writes one row per image; clip embed skips what it cannot read)");
  clip::Tensor images =
      opt.inputs.empty() ? clip::load_npy(opt.input_npy) : preprocess_images(inputs.files, preprocess, opt.input);
  // One preprocessed image [3, n, n], as `clip preprocess` writes it, is a batch of one.
  if (images.dim() == 3) images = images.reshape({1, images.size(0), images.size(1), images.size(2)});
  const clip::Tensor features = model.encode_image(images);
  cli::write_output(opt.out, opt.normalize ? clip::normalize(features) : features);
  return 0;
}

int run_encode_text(const EncodeOptions& opt) {
  if (opt.input_npy.empty() == opt.inputs.empty()) throw clip::Error("give either --tokens-npy or TEXT arguments");
  const clip::Model model = load_model(opt.model);
  const clip::Tensor tokens = opt.inputs.empty()
                                  ? clip::load_npy(opt.input_npy)
                                  : clip::tokenize(opt.inputs, model.context_length(), opt.input.truncate);
  const clip::Tensor features = model.encode_text(tokens);
  cli::write_output(opt.out, opt.normalize ? clip::normalize(features) : features);
  return 0;
}

struct ClassifyOptions {
  cli::ModelOptions model;
  cli::InputOptions input;
  std::string labels_file;  // one label per line, after --labels
  std::vector<std::string> images, labels, templates;
  int top = 0;  // 0: every label
  bool json = false;
  int batch = 16;
};

// Labels from --labels, then one per non-empty line of --labels-file.
std::vector<std::string> all_labels(const ClassifyOptions& opt) {
  std::vector<std::string> labels = opt.labels;
  if (opt.labels_file.empty()) return labels;
  const auto bytes = cli::read_text_file(opt.labels_file, "labels file");
  std::istringstream lines(bytes);
  for (std::string line; std::getline(lines, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) labels.push_back(line);
  }
  if (labels.empty()) throw clip::Error("no labels: " + opt.labels_file + " is empty");
  return labels;
}

int run_classify(ClassifyOptions opt) {
  if (opt.top < 0) throw clip::Error("--top must be positive");
  opt.labels = all_labels(opt);
  if (opt.labels.empty()) throw clip::Error("give --labels or --labels-file");
  // Folders are searched for images as `clip embed` does; what cannot be read is named.
  clip::FoundImages inputs = clip::find_images(opt.images);
  for (const auto& [file, reason] : inputs.skipped)
    std::cerr << "clip: warning: skipped " << file << ": " << reason << '\n';
  opt.images.assign(inputs.files.begin(), inputs.files.end());
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, &preprocess);
  const clip::Tensor text = cli::label_features(model, opt.labels, opt.templates, opt.input.truncate);
  const std::size_t shown = opt.top > 0 ? std::min<std::size_t>(opt.top, opt.labels.size()) : opt.labels.size();
  std::size_t width = 0;  // in terminal columns: "猫" takes two, "é" one (issue #14)
  for (const auto& l : opt.labels) width = std::max(width, cli::display_width(l));
  std::size_t failed = inputs.skipped.size();
  for (std::size_t begin = 0; begin < opt.images.size(); begin += opt.batch) {
    const std::size_t end = std::min(opt.images.size(), begin + opt.batch);
    // A file that cannot be read is named and skipped; the others are still classified
    // (issue #14: the first bad image ended the run with nothing printed).
    std::vector<std::string> files;
    std::vector<clip::Tensor> pixels;
    for (std::size_t i = begin; i < end; ++i) {
      try {
        pixels.push_back(cli::preprocess_image(preprocess, opt.images[i], opt.input));
        files.push_back(opt.images[i]);
      } catch (const clip::Error& e) {
        std::cerr << "clip: warning: skipped " << opt.images[i] << ": " << e.what() << '\n';
        ++failed;
      }
    }
    if (files.empty()) continue;
    // As model(image, text), then softmax.
    const clip::Tensor images = model.encode_image(clip::stack(pixels));
    const std::int64_t m = static_cast<std::int64_t>(opt.labels.size());
    const std::vector<float> probs =
        clip::softmax(clip::logits(images, text, model.logit_scale()).first, -1).to_vector<float>();
    for (std::size_t f = 0; f < files.size(); ++f) {
      const std::vector<float> p(probs.begin() + f * m, probs.begin() + (f + 1) * m);
      const std::vector<std::size_t> order = cli::ranking(p);
      if (opt.json) {
        nlohmann::ordered_json j;
        j["image"] = files[f];
        j["labels"] = nlohmann::json::array();
        j["probs"] = nlohmann::json::array();
        for (std::size_t r = 0; r < opt.labels.size(); ++r) {
          const std::size_t i = opt.top > 0 ? order[r] : r;  // --top: the best first; else as given
          if (r >= shown) break;
          j["labels"].push_back(opt.labels[i]);
          j["probs"].push_back(p[i]);
        }
        std::cout << j.dump() << '\n';
        continue;
      }
      std::cout << files[f] << '\n';
      for (std::size_t r = 0; r < shown; ++r) {
        const std::size_t i = order[r];
        char prob[32];
        std::snprintf(prob, sizeof prob, "%.4f", p[i]);
        std::cout << "  " << opt.labels[i] << std::string(width - cli::display_width(opt.labels[i]) + 2, ' ') << prob
                  << '\n';
      }
    }
  }
  if (failed == 0) return 0;
  std::cerr << "clip: error: " << failed << " of " << opt.images.size() + inputs.skipped.size()
            << " images could not be read (skipped above)\n";
  return 1;
}

int run_tokenize(const TokenizeOptions& opt) {
  if (opt.jsonl) return tokenize_jsonl(opt);
  const clip::Tensor rows = clip::tokenize(opt.texts, opt.context_length, opt.truncate);
  for (std::int64_t i = 0; i < rows.size(0); ++i) print_row(rows, i);
  return 0;
}

}  // namespace

int cli::run(int argc, char** argv) {
  CLI::App app{
      "clip: OpenAI's CLIP in C++ (tokenizer, image preprocessing, encoders, zero-shot classification, "
      "image search)",
      "clip"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "clip-cpp " CLIP_VERSION_STRING);
  // Usage errors too are one line: what is wrong, and where to look.
  app.failure_message(
      [](const CLI::App*, const CLI::Error& e) { return "clip: error: " + std::string(e.what()) + " (see --help)\n"; });
  app.footer(
      "Examples:\n"
      "  clip classify --model demo-shapes --template \"a photo of a {}.\" examples/images/red-star.png \\\n"
      "      --labels \"red star\" \"blue circle\" \"yellow triangle\"\n"
      "  clip embed photos/ --model ViT-B/32 --out index.npy && clip search --index index.npy \"a dog on a beach\"\n"
      "Run clip SUBCOMMAND --help for its options. Errors: one line on stderr, exit status 1.");

  TokenizeOptions tok;
  CLI::App* tokenize =
      app.add_subcommand("tokenize", "Print the CLIP token ids of each TEXT, one row per text, as clip.tokenize does");
  tokenize->add_option("--context-length", tok.context_length, "Row length (default 77)")
      ->check(in_range(0, clip::kMaxContextLength));
  tokenize->add_flag("--truncate", tok.truncate, "Cut texts that are too long instead of failing");
  tokenize->add_flag("--jsonl", tok.jsonl,
                     "Read one JSON string per line from stdin; write one JSON array, or "
                     "{\"error\": ...}, per line");
  tokenize->add_option("text", tok.texts, "Texts to tokenize");
  tokenize->callback([&] {
    if (!tok.jsonl && tok.texts.empty()) throw CLI::ValidationError("tokenize", "give at least one TEXT, or --jsonl");
  });

  PreprocessOptions pre;
  CLI::App* preprocess =
      app.add_subcommand("preprocess", "Apply the reference preprocess (Resize, CenterCrop, RGB, Normalize) to IMAGE");
  preprocess
      ->add_option("image", pre.image,
                   "Image file (any format of the README's table, found by content); - reads standard input")
      ->required();
  CLI::Option* size = preprocess->add_option("--size", pre.size, "Output side n_px (default 224)")->check(in_range(1));
  CLI::Option* resize_mode = preprocess
                                 ->add_option("--resize-mode", pre.resize_mode,
                                              "shortest (default: resize, centre crop), squash or longest (pad)")
                                 ->check(CLI::IsMember({"shortest", "squash", "longest"}));
  CLI::Option* interpolation =
      preprocess->add_option("--interpolation", pre.interpolation, "bicubic (default) or bilinear")
          ->check(CLI::IsMember({"bicubic", "bilinear"}));
  preprocess->add_option("--model", pre.model, "Use this model's transform (its preprocess) instead of --size")
      ->excludes(size)
      ->excludes(resize_mode)
      ->excludes(interpolation);
  preprocess->add_option("--config", pre.config, "The model's open_clip_config.json (default: the one beside it)");
  preprocess->add_option("--out", pre.out, "Float32 tensor [3, N, N] as .npy (- for standard output)")->required();
  preprocess->add_option("--uint8-out", pre.uint8_out,
                         "Also write the uint8 RGB image [N, N, 3] after resize and crop as .npy");
  add_image_options(*preprocess, pre.input);

  InspectOptions ins;
  CLI::App* inspect =
      app.add_subcommand("inspect", "Show the model configuration inferred from a checkpoint (.pt or .safetensors)");
  inspect->add_option("file", ins.file, "Checkpoint file, or a built-in model name")->required();
  inspect->add_flag("--json", ins.json, "Print JSON");
  inspect->add_option("--config", ins.config, "The model's open_clip_config.json (default: the one beside it)");

  std::string models_root;
  CLI::App* models =
      app.add_subcommand("models", "List the official CLIP models (and which are cached) and the built-in ones");
  models->add_option("--root", models_root, "Cache folder (default: ~/.cache/clip)");
  bool models_json = false, models_all = false;
  models->add_flag("--json", models_json, "One JSON object per model: {\"name\", \"kind\", \"cached\"}");
  models->add_flag("--all", models_all,
                   "Also open_clip's pretrained models (MODEL:TAG, for --model; downloaded from the model hub)");

  std::string download_name, download_root;
  CLI::App* download = app.add_subcommand(
      "download", "Download an official model into the cache (mirror: $CLIP_MIRROR) and print its path");
  download->add_option("name", download_name, "Model name, e.g. ViT-B/32")->required();
  download->add_option("--root", download_root, "Cache folder (default: ~/.cache/clip)");

  EncodeOptions enc_img, enc_txt;
  CLI::App* encode_image = app.add_subcommand("encode-image", "Write image features (float32 [N, embed]) as .npy");
  add_model_options(*encode_image, enc_img.model);
  encode_image->add_option("--input-npy", enc_img.input_npy,
                           "Preprocessed images float32 [N, 3, R, R] or one [3, R, R] (.npy)");
  encode_image->add_option(
      "images", enc_img.inputs,
      "Image files and folders (searched as embed does, rows in that order); - reads standard input");
  encode_image
      ->add_option("--out", enc_img.out,
                   "Output .npy, .jsonl (one JSON array per image) or - (.npy to standard output)")
      ->required();
  encode_image->add_flag("--normalize", enc_img.normalize, "Write unit-length features");
  add_image_options(*encode_image, enc_img.input);

  CLI::App* encode_text = app.add_subcommand("encode-text", "Write text features (float32 [N, embed]) as .npy");
  add_model_options(*encode_text, enc_txt.model);
  encode_text->add_option("--tokens-npy", enc_txt.input_npy, "Token ids int32/int64 [N, 77] (.npy)");
  encode_text->add_option("texts", enc_txt.inputs, "Texts (tokenized as clip.tokenize does)");
  encode_text
      ->add_option("--out", enc_txt.out, "Output .npy, .jsonl (one JSON array per text) or - (.npy to standard output)")
      ->required();
  encode_text->add_flag("--normalize", enc_txt.normalize, "Write unit-length features");
  add_text_options(*encode_text, enc_txt.input);

  ClassifyOptions cls;
  CLI::App* classify = app.add_subcommand("classify", "Zero-shot classification: label probabilities for each image");
  add_model_options(*classify, cls.model);
  classify->add_option("images", cls.images, "Image files and folders (searched as embed does); - reads standard input")
      ->required();
  classify->add_option("--labels", cls.labels, "Candidate labels");
  classify->add_option("--labels-file", cls.labels_file, "A file of candidate labels, one per line (after --labels)");
  classify
      ->add_option("--template", cls.templates,
                   "Prompt template with {} for the label, e.g. \"a photo of a {}.\"; repeat it to average "
                   "several (prompt ensembling). Default: the labels as given")
      ->allow_extra_args(false);
  classify->add_option("--top", cls.top, "Show only the K most probable labels")->check(in_range(1));
  classify->add_flag("--json", cls.json,
                     "One JSON object per image: {\"image\", \"labels\", \"probs\"} (labels as given; with --top, "
                     "the best K first)");
  classify->add_option("--batch", cls.batch, "Images per forward pass (default 16)")->check(in_range(1));
  add_text_options(*classify, cls.input);
  add_image_options(*classify, cls.input);

  cli::EmbedOptions emb;
  CLI::App* embed = app.add_subcommand(
      "embed",
      "Embed many images: unit-length features as one .npy (the list of files as .json beside it), or as a "
      "resumable folder of parts");
  embed
      ->add_option("inputs", emb.inputs,
                   "Image files, folders (searched recursively for images and tar shards), tar shards "
                   "(webdataset: key.jpg, key.txt, ...) and input lists (.txt: one path per line)")
      ->required();
  add_model_options(*embed, emb.model);
  embed
      ->add_option("--out", emb.out,
                   "X.npy: one float32 [N, embed] array, X.json beside it lists the N files; any other name: a "
                   "folder of parts (part-NNNNN.npy + .jsonl, run.json, manifest.json); a run started again "
                   "resumes")
      ->required();
  embed
      ->add_option("--part-size", emb.part_size, "Images per part of a folder (default 10000; a tar shard is one part)")
      ->check(in_range(1));
  embed->add_option("--dtype", emb.dtype, "Parts' features: float32 (default) or float16")
      ->check(CLI::IsMember({"float32", "float16"}));
  embed
      ->add_option("--decode-threads", emb.decode_threads,
                   "Threads that decode and preprocess for the model (default: one per CPU)")
      ->check(in_range(1));
  embed->add_option("--batch", emb.batch, "Images per forward pass (default 16)")->check(in_range(1));
  add_image_options(*embed, emb.input);

  cli::SearchOptions srch;
  CLI::App* search = app.add_subcommand("search", "Rank the images of a `clip embed` index by text or image queries");
  search->add_option("queries", srch.queries, "Text queries");
  search->add_option("--image", srch.images, "An image as the query (image-to-image search), repeatable")
      ->allow_extra_args(false);
  add_image_options(*search, srch.input);
  search
      ->add_option("--index", srch.index,
                   "What `clip embed` wrote: X.npy (its .json beside it) or a folder of parts (searched exactly), "
                   "or an X.faiss of `clip index build`")
      ->required();
  search->add_option("--vectors", srch.vectors,
                     "Query by vectors: an .npy of float32 [n, embed] rows (no model loaded)");
  search->add_option("--nprobe", srch.index_search.nprobe, "ivf-pq: lists searched (default nlist / 8)")
      ->check(in_range(1));
  search->add_option("--ef", srch.index_search.ef, "hnsw: candidates kept while searching (default 128)")
      ->check(in_range(1));
  search
      ->add_option("--rerank", srch.index_search.rerank, "ivf-pq: candidates re-ranked exactly per result (default 10)")
      ->check(in_range(1));
  add_model_options(*search, srch.model, false);
  search->add_option("--template", srch.templates, "Prompt template with {}, repeatable, averaged as in classify")
      ->allow_extra_args(false);
  search->add_option("--top", srch.top, "Results per query (default 5)")->check(in_range(1));
  add_text_options(*search, srch.input);
  search->add_flag("--json", srch.json, "One JSON object per query: {\"query\", \"results\": [{\"file\", \"score\"}]}");

  cli::IndexBuildOptions idx;
  CLI::App* index = app.add_subcommand("index", "FAISS indexes over the embeddings of `clip embed`");
  index->require_subcommand(1);
  CLI::App* index_build = index->add_subcommand("build", "Build an index from a folder of parts (or an .npy)");
  index_build->add_option("embeddings", idx.source, "What `clip embed` wrote: a folder of parts or X.npy")->required();
  index_build->add_option("--out", idx.out, "The index, X.faiss (its description goes beside it: X.faiss.json)")
      ->required();
  index_build->add_option("--type", idx.type, "flat (exact), ivf-pq (compressed) or hnsw (graph; default)")
      ->check(CLI::IsMember({"flat", "ivf-pq", "hnsw"}));
  index_build->add_option("--nlist", idx.nlist, "ivf-pq: inverted lists (default: a power of two near 4 sqrt(rows))")
      ->check(in_range(1));
  index_build->add_option("--pq", idx.pq, "ivf-pq: bytes per row (default: embed / 4)")->check(in_range(1));
  index_build->add_option("--m", idx.hnsw_m, "hnsw: links per node (default 32)")->check(in_range(2, 512));
  index_build->add_option("--ef-construction", idx.ef_construction, "hnsw: candidates while linking (default 80)")
      ->check(in_range(1));
  index_build->add_option("--threads", idx.threads, "Threads (default: all this process may use)")->check(in_range(1));

  cli::ServeOptions srv;
  CLI::App* serve =
      app.add_subcommand("serve", "An HTTP embedding service with dynamic batching (JSON; endpoints in the README)");
  add_model_options(*serve, srv.model);
  add_image_options(*serve, srv.input);
  serve->add_option("--host", srv.host, "Address to listen on (default 127.0.0.1: this machine only)");
  serve->add_option("--port", srv.port, "Port (default 8080; 0: any free port, printed)")->check(in_range(0, 65535));
  serve->add_option("--max-batch", srv.max_batch, "Rows per model call (default 8)")->check(in_range(1, 1024));
  serve->add_option("--max-wait-ms", srv.max_wait_ms, "How long a request waits for others to batch with (default 5)")
      ->check(in_range(0, 10000));
  serve->add_option("--max-queue", srv.max_queue, "Requests waiting per tower; more get 503 (default 64)")
      ->check(in_range(1, 100000));
  serve->add_option("--max-body-mb", srv.max_body_mb, "Largest request body; larger get 413 (default 32)")
      ->check(in_range(1, 4096));
  serve->add_option("--timeout-ms", srv.timeout_ms, "Per-request deadline; later get 504 (default 30000)")
      ->check(in_range(1, 3600000));
  serve
      ->add_option("--io-timeout-ms", srv.io_timeout_ms,
                   "Drop a client that sends or reads nothing for this long (default 10000)")
      ->check(in_range(1, 3600000));
  serve->add_option("--index", srv.index,
                    "What `clip embed` made with this model (X.npy, a folder of parts) or a `clip index build` "
                    "index: POST /v1/search, and a search page at /");
  serve->add_option("--http-threads", srv.http_threads, "Connection threads (default max(8, 2 x max batch))")
      ->check(in_range(1, 1024));

  // Each subcommand's help ends with its own examples (issue #14: they all showed the
  // top-level ones).
  const std::pair<CLI::App*, const char*> examples[] = {
      {tokenize,
       "  clip tokenize \"a diagram\" \"a dog\" \"a cat\"\n  echo '\"a photo of a cat\"' | clip tokenize --jsonl"},
      {preprocess,
       "  clip preprocess photo.jpg --model ViT-B/32 --out photo.npy\n"
       "  clip encode-image --model ViT-B/32 --input-npy photo.npy --out features.npy"},
      {inspect, "  clip inspect ViT-B-32.pt\n  clip inspect demo-shapes --json"},
      {models,
       "  clip models\n  clip models --json\n  clip models --all    # with open_clip's: --model "
       "ViT-H-14:laion2b_s32b_b79k"},
      {download,
       "  clip download ViT-B/32\n  CLIP_MIRROR=/srv/clip-models clip download RN50    # a folder or URL with the .pt "
       "files"},
      {encode_image,
       "  clip encode-image --model ViT-B/32 --normalize a.jpg b.png --out features.npy\n"
       "  cat a.jpg | clip encode-image --model ViT-B/32 - --out - > a.npy"},
      {encode_text, "  clip encode-text --model ViT-B/32 \"a dog\" \"a cat\" --out text.jsonl"},
      {classify,
       "  clip classify --model demo-shapes --template \"a photo of a {}.\" examples/images/red-star.png \\\n"
       "      --labels \"red star\" \"blue circle\" \"yellow triangle\"\n"
       "  clip classify --model ViT-B/32 --json photos/ --labels-file labels.txt"},
      {embed,
       "  clip embed photos/ --model ViT-B/32 --out index.npy\n"
       "  clip embed shards/ list.txt --model ViT-B/32 --out embeddings/    (run it again to resume)\n"
       "Unreadable files are skipped with a warning (in a folder of parts: recorded in the parts' .jsonl).\n"
       "A progress bar is shown when stderr is a terminal. docs/COLLECTIONS.md: the folder's layout."},
      {serve,
       "  clip serve --model ViT-B/32 --port 8080\n"
       "  curl -s localhost:8080/v1/embed/text -d '{\"texts\": [\"a dog\", \"a cat\"]}'\n"
       "  curl -s localhost:8080/v1/embed/image --data-binary @photo.jpg"},
      {search,
       "  clip search --index index.npy \"a dog on a beach\" --top 10\n"
       "  clip search --index index.npy --image photos/beach.jpg --json\n"
       "  clip search --index photos.faiss \"a dog on a beach\"    (built by clip index build)"},
      {index_build,
       "  clip index build embeddings/ --out photos.faiss --type hnsw\n"
       "  clip index build embeddings/ --out photos.faiss --type ivf-pq --nlist 1024\n"
       "docs/COLLECTIONS.md: which type for which collection, and their parameters."}};
  for (const auto& [command, text] : examples) command->footer(std::string("Examples:\n") + text);

  // A first word that is no subcommand is named as such (CLI11 said "A subcommand is
  // required" for `clip clasify`).
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::cerr << "clip: error: unknown subcommand '" << argv[1] << "'" << cli::did_you_mean(argv[1], names)
                << " (see clip --help)\n";
      return 1;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version exit 0. A misspelt option is named before any "X is required" that
    // follows from it (`--lables a b` said "--labels is required").
    if (e.get_exit_code() == 0) return app.exit(e);
    for (const CLI::App* sub : app.get_subcommands())
      for (const std::string& arg : sub->remaining())
        if (arg.rfind("--", 0) == 0) {
          std::vector<std::string> options;
          for (const CLI::Option* o : sub->get_options())
            for (const std::string& name : o->get_lnames()) options.push_back("--" + name);
          std::cerr << "clip: error: " << sub->get_name() << ": unknown option " << arg
                    << cli::did_you_mean(arg, options) << " (see clip " << sub->get_name() << " --help)\n";
          return 1;
        }
    app.exit(e);
    return 1;  // one exit status for every usage error, as the help says
  }
  try {
    if (*tokenize) return run_tokenize(tok);
    if (*preprocess) return run_preprocess(pre);
    if (*inspect) return run_inspect(ins);
    if (*models) return run_models(models_root, models_json, models_all);
    if (*encode_image) return run_encode_image(enc_img);
    if (*encode_text) return run_encode_text(enc_txt);
    if (*classify) return run_classify(cls);
    if (*embed) return cli::run_embed(emb);
    if (*search) return cli::run_search(srch);
    if (*index_build) {
      cli::build_index(idx);
      return 0;
    }
    if (*download) return run_download(download_name, download_root);
    if (*serve) return cli::run_serve(srv);
  } catch (const clip::Error& e) {
    std::cerr << "clip: error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "clip: internal error: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
