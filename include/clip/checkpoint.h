// CLIP weights from the files users hold: the official TorchScript archives
// (ViT-B-32.pt ...), torch.save(state_dict) files, and safetensors with the OpenAI /
// open_clip key names or the Hugging Face transformers names. The model configuration
// (clip/config.h) is inferred from the tensor shapes exactly as the reference's
// build_model does.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clip/config.h"
#include "clip/export.h"
#include "clip/tensor.h"

namespace clip {

class CLIP_API Checkpoint {
 public:
  // Reads a .pt / .bin (TorchScript archive or torch.save zip) or .safetensors file.
  // Tensors are views into the memory-mapped file (fp16 stays fp16: use Tensor::to). A
  // Hugging Face model.safetensors is renamed to the OpenAI keys (q/k/v fused, projections
  // transposed); its config.json, when beside it, gives the activation. `config`: an
  // open_clip_config.json describing the model (see apply_open_clip_config); empty: the
  // one beside the file, if there is one.
  static Checkpoint load(const std::filesystem::path& path, const std::filesystem::path& config = {});
  // A model compiled into the library (see builtin_models() in clip/models.h).
  static Checkpoint load_builtin(const std::string& name);

  // The OpenAI state-dict names, in file order (TorchScript archives also carry the 0-dim
  // int64 input_resolution, context_length and vocab_size, as torch's state_dict() does).
  const std::vector<std::string>& keys() const { return keys_; }
  bool contains(const std::string& key) const { return tensors_.count(key) != 0; }
  const Tensor& at(const std::string& key) const;  // clip::Error when absent
  const std::string& format() const {
    return format_;
  }  // "torchscript", "torch.save", "safetensors", "safetensors (Hugging Face)"
  const std::filesystem::path& path() const { return path_; }

  // The model's configuration: from the open_clip description when there is one; else
  // OpenAI's rules, with config().source == "assumed" for a file that may come from
  // elsewhere (torch.save or safetensors with no description).
  ModelConfig config() const;
  // An open_clip_config.json's text, and the name used for it in messages.
  void set_description(std::string json, std::string where);
  // The file is one of OpenAI's models (found by its official name): OpenAI's rules are
  // its own, nothing is assumed.
  void set_openai_model() { openai_model_ = true; }
  // Sum of the elements of the model's parameters (buffers such as BatchNorm statistics
  // and the int64 scalars excluded), as the reference counts them.
  std::int64_t parameter_count() const;
  // Number of tensors of each dtype ("float16" -> 160 ...).
  std::map<std::string, int> dtype_counts() const;

  // Builds a checkpoint from tensors (used by the readers; also handy for tests).
  Checkpoint() = default;
  Checkpoint(std::filesystem::path path, std::string format, std::optional<Activation> activation = std::nullopt);
  void add(const std::string& key, Tensor tensor);

 private:
  std::filesystem::path path_;
  std::string format_;
  std::vector<std::string> keys_;
  std::map<std::string, Tensor> tensors_;
  std::optional<Activation> activation_;
  bool openai_model_ = false;
  std::optional<std::string> description_;
  std::string description_where_;
};

// Writes tensors as a .safetensors file (temporary file, then rename), keys in the given
// order. With `metadata` entries in "__metadata__".
CLIP_API void save_safetensors(const std::filesystem::path& path,
                               const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

}  // namespace clip
