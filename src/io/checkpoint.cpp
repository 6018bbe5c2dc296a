#include "clip/checkpoint.h"

#include <cstring>
#include <fstream>

#include "clip/error.h"
#include "io/readers.h"

namespace clip {

Checkpoint Checkpoint::load(const std::filesystem::path& path) {
  char magic[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open checkpoint " + path.string() + ": " + std::strerror(errno));
    in.read(magic, 4);
  }
  io::LoadedTensors loaded = std::memcmp(magic, "PK\x03\x04", 4) == 0 || std::memcmp(magic, "PK\x05\x06", 4) == 0
                                 ? io::read_torch_zip(path)
                                 : io::read_safetensors(path);
  Checkpoint c;
  c.path_ = path;
  c.format_ = loaded.format;
  c.activation_ = loaded.activation;
  for (auto& [key, tensor] : loaded.tensors) c.add(key, std::move(tensor));
  return c;
}

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
