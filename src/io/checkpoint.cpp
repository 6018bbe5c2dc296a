#include "clip/checkpoint.h"

#include <cstring>

#include "clip/error.h"
#include "io/builtin_models.h"
#include "io/readers.h"

namespace clip {

namespace {
Checkpoint read_checkpoint(std::shared_ptr<io::MappedFile> file) {
  const auto bytes = file->bytes();
  const bool zip = bytes.size() >= 4 && (std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0 ||
                                         std::memcmp(bytes.data(), "PK\x05\x06", 4) == 0);
  const std::filesystem::path path = file->path();
  io::LoadedTensors loaded = zip ? io::read_torch_zip(std::move(file)) : io::read_safetensors(std::move(file));
  Checkpoint c(path, loaded.format, loaded.activation);
  for (auto& [key, tensor] : loaded.tensors) c.add(key, std::move(tensor));
  return c;
}
}  // namespace

Checkpoint Checkpoint::load(const std::filesystem::path& path) { return read_checkpoint(io::MappedFile::open(path)); }

Checkpoint Checkpoint::load_builtin(const std::string& name) {
  const auto bytes = io::builtin_model_bytes(name);
  if (bytes.empty()) throw Error("no built-in model named '" + name + "'");
  return read_checkpoint(io::MappedFile::copy_of(bytes, "<built-in " + name + ">"));
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
  try {
    return infer_config(shapes, activation_.value_or(Activation::QuickGELU));
  } catch (const Error& e) {
    throw Error(path_.string() + ": " + e.what());
  }
}

namespace {
bool is_buffer(const std::string& key) {
  return key.ends_with("running_mean") || key.ends_with("running_var") || key.ends_with("num_batches_tracked") ||
         key == "input_resolution" || key == "context_length" || key == "vocab_size";
}
}  // namespace

std::int64_t Checkpoint::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& [key, t] : tensors_)
    if (!is_buffer(key)) n += t.numel();
  return n;
}

std::map<std::string, int> Checkpoint::dtype_counts() const {
  std::map<std::string, int> counts;
  for (const auto& [key, t] : tensors_) ++counts[dtype_name(t.dtype())];
  return counts;
}

}  // namespace clip
