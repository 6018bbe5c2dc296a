// clip::Checkpoint: a checkpoint file's tensors under the OpenAI names, whatever its
// format; and load_checkpoint, which finds the file a model name means.
#include "clip/checkpoint.h"

#include <algorithm>
#include <cstring>

#include "clip/error.h"
#include "clip/models.h"
#include "core/file.h"
#include "io/builtin_models.h"
#include "io/readers.h"
#include "io/schema.h"

namespace clip {

namespace {
Checkpoint read_checkpoint(std::shared_ptr<io::MappedFile> file) {
  const auto bytes = file->bytes();
  const bool zip = bytes.size() >= 4 &&
                   (std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0 || std::memcmp(bytes.data(), "PK\x05\x06", 4) == 0);
  const std::filesystem::path path = file->path();
  io::LoadedTensors loaded = zip ? io::read_torch_zip(std::move(file)) : io::read_safetensors(std::move(file));
  Checkpoint c(path, loaded.format, loaded.activation);
  for (auto& [key, tensor] : loaded.tensors) c.add(key, std::move(tensor));
  return c;
}
}  // namespace

Checkpoint Checkpoint::load(const std::filesystem::path& path, const std::filesystem::path& config) {
  Checkpoint c = read_checkpoint(io::MappedFile::open(path));
  // open_clip publishes open_clip_config.json beside its weights.
  std::filesystem::path description = config;
  std::error_code error;
  if (description.empty() && std::filesystem::exists(path.parent_path() / "open_clip_config.json", error))
    description = path.parent_path() / "open_clip_config.json";
  if (!description.empty()) {
    const auto bytes = core::read_regular_file(description, "model config", std::uint64_t{16} << 20);
    c.set_description(std::string(bytes.begin(), bytes.end()), description.string());
  }
  return c;
}

void Checkpoint::set_description(std::string json, std::string where) {
  description_ = std::move(json);
  description_where_ = std::move(where);
}

Checkpoint Checkpoint::load_builtin(const std::string& name) {
  const auto bytes = io::builtin_model_bytes(name);
  if (bytes.empty()) throw Error("no built-in model named '" + name + "'");
  Checkpoint c = read_checkpoint(io::MappedFile::copy_of(bytes, "<built-in " + name + ">"));
  c.set_openai_model();  // ours, built by OpenAI's architecture rules
  return c;
}

Checkpoint load_checkpoint(const std::string& name_or_path, const DownloadOptions& options,
                           const std::filesystem::path& config) {
  // As the reference: an official name first, then a path; download_model reports an
  // unknown name.
  const auto listed = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), name_or_path) != list.end();
  };
  if (listed(builtin_models())) {
    Checkpoint c = Checkpoint::load_builtin(name_or_path);
    if (!config.empty()) throw Error("a built-in model takes no configuration file (" + config.string() + ")");
    return c;
  }
  std::error_code error;
  if (!listed(available_models()) && std::filesystem::exists(name_or_path, error))
    return Checkpoint::load(name_or_path, config);  // which names what is wrong with something not a file
  if (name_or_path.starts_with("hf-hub:") || listed(open_clip_models()))
    return Checkpoint::load(download_open_clip_model(name_or_path, options), config);
  Checkpoint c = Checkpoint::load(download_model(name_or_path, options), config);
  c.set_openai_model();  // a copy of OpenAI's (open_clip's hub copies are safetensors)
  return c;
}

Checkpoint::Checkpoint(std::filesystem::path path, std::string format, std::optional<Activation> activation)
    : path_(std::move(path)), format_(std::move(format)), activation_(activation) {}

void Checkpoint::add(const std::string& key, Tensor tensor) {
  if (!tensors_.emplace(key, std::move(tensor)).second) throw Error("checkpoint has tensor '" + key + "' twice");
  keys_.push_back(key);
}

const Tensor& Checkpoint::at(const std::string& key) const {
  const auto it = tensors_.find(key);
  if (it == tensors_.end()) throw Error(path_.string() + ": tensor '" + key + "' is missing");
  return it->second;
}

ModelConfig Checkpoint::config() const {
  std::map<std::string, Tensor::Shape> shapes;
  for (const auto& [key, t] : tensors_) shapes[key] = t.shape();
  if (description_) return apply_open_clip_config(shapes, *description_, description_where_);
  try {
    ModelConfig c = infer_config(shapes, activation_.value_or(Activation::QuickGELU));
    // OpenAI's own files (TorchScript archives), the built-in models and Hugging Face files
    // with their config.json say what they are; anything else may be an open_clip model
    // whose numbers the shapes cannot tell.
    const bool openai = openai_model_ || format_ == "torchscript" || activation_;
    if (!openai) c.source = "assumed";
    return c;
  } catch (const Error& e) {
    throw Error(path_.string() + ": " + e.what());
  }
}

std::int64_t Checkpoint::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& [key, t] : tensors_)
    if (!io::schema::is_buffer(key)) n += t.numel();
  return n;
}

std::map<std::string, int> Checkpoint::dtype_counts() const {
  std::map<std::string, int> counts;
  for (const auto& [key, t] : tensors_) ++counts[dtype_name(t.dtype())];
  return counts;
}

}  // namespace clip
