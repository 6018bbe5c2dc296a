// The CLIP model: encode_image, encode_text and the logits, as the reference computes them.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "clip/checkpoint.h"
#include "clip/export.h"
#include "clip/image.h"
#include "clip/tensor.h"

namespace clip {

// The arithmetic of the linear layers (most of the work). FP32 computes as the reference
// does on the CPU. BF16 multiplies in bfloat16 and accumulates in float32: about twice as
// fast on CPUs with AVX-512 BF16, features within cosine 0.999 of FP32.
enum class Precision { FP32, BF16 };
CLIP_API Precision parse_precision(const std::string& name);  // "fp32", "bf16"; clip::Error for other names

class CLIP_API Model {
 public:
  // Builds the model a checkpoint describes. With `jit` the weights are prepared once for
  // the backend (float32, BatchNorm folded into the convolutions) and are read-only;
  // without, the model keeps its named parameters, which can be read and replaced.
  static Model from_checkpoint(const Checkpoint& checkpoint, const std::string& device = "cpu", bool jit = false,
                               Precision precision = Precision::FP32);

  // images float32 [N, 3, R, R] (R = input_resolution()) -> float32 [N, embed_dim].
  Tensor encode_image(const Tensor& images) const;
  // tokens int32 or int64 [N, context_length] -> float32 [N, embed_dim], the features at
  // the end-of-text token (the largest id of each row).
  Tensor encode_text(const Tensor& tokens) const;
  // (logits_per_image [N_img, N_txt], logits_per_text [N_txt, N_img]): clip::logits of
  // the two encodings (cosine similarity times logit_scale.exp()).
  std::pair<Tensor, Tensor> operator()(const Tensor& images, const Tensor& tokens) const;

  const ModelConfig& config() const;
  int input_resolution() const { return config().image_resolution; }
  int context_length() const { return config().context_length; }
  float logit_scale() const;  // the parameter (before exp)
  bool jit() const;
  const std::string& device() const;
  Precision precision() const;

  // Threads used by this model (default: clip::get_num_threads() when it was made); a call
  // uses fewer while other processes keep some of this process's CPUs busy, unless
  // CLIP_ADAPT_THREADS=0.
  void set_num_threads(int threads);
  int num_threads() const;

  // Named parameters (the state-dict names), jit = false only. set_parameter checks the
  // shape and converts to float32.
  std::vector<std::string> parameter_names() const;
  Tensor parameter(const std::string& name) const;
  void set_parameter(const std::string& name, const Tensor& value);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The device a model runs on when none is named: "cpu" (this build has no GPU backend).
CLIP_API std::string default_device();

// clip.load: a name from builtin_models() (no network), a name from available_models()
// (downloaded and cached, see models.h) or the path of a checkpoint file; returns the
// model and its preprocess transform (open_clip's preprocess_cfg when the model has one).
// `config`: the open_clip_config.json describing the file (default: the one beside it).
// A file of unknown origin with no description is read by OpenAI's rules, with a one-line
// warning on stderr saying so.
CLIP_API std::pair<Model, Preprocess> load(const std::string& name_or_path,
                                           const std::string& device = default_device(), bool jit = false,
                                           const std::filesystem::path& download_root = {},
                                           Precision precision = Precision::FP32,
                                           const std::filesystem::path& config = {});
// The transform a configuration names (size, mean, std, interpolation, resize mode).
CLIP_API Preprocess preprocess_for(const ModelConfig& config);

}  // namespace clip
