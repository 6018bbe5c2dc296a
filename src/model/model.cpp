// clip::Model: a checkpoint's weights bound to the towers, on the backend its device
// names; input checks, threads, named parameters.
#include "clip/model.h"

#include <mutex>
#include <optional>

#include "clip/error.h"
#include "core/threads.h"
#include "io/schema.h"
#include "model/towers.h"
#include "model/weights.h"

namespace clip {

namespace schema = io::schema;

// The towers are bound on first use (a process that only embeds images never converts
// the text tower's float16 weights), under `mutex`, and rebound after set_parameter.
struct Model::Impl {
  ModelConfig config;
  std::string device;
  bool jit = false;
  Precision precision = Precision::FP32;
  std::unique_ptr<runtime::Backend> backend;
  mutable std::mutex mutex;
  mutable model::ParameterStore store;
  mutable std::optional<model::TextTower> text;
  mutable std::optional<model::VitTower> vit;
  mutable std::optional<model::ResNetTower> resnet;

  Impl(const Checkpoint& checkpoint, ModelConfig c) : config(std::move(c)), store(checkpoint, config) {}

  template <class Tower, class Bind>
  const Tower& bound(std::optional<Tower>& tower, Bind bind) const {
    std::lock_guard lock(mutex);
    if (!tower) tower = bind();
    return *tower;
  }
};

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  throw Error("unknown precision '" + name + "' (fp32 or bf16)");
}

Model Model::from_checkpoint(const Checkpoint& checkpoint, const std::string& device, bool jit, Precision precision) {
  auto backend = runtime::make_backend(device);
  auto impl = std::make_shared<Impl>(checkpoint, checkpoint.config());
  impl->device = device;
  impl->jit = jit;
  impl->precision = precision;
  impl->backend = std::move(backend);
  impl->backend->set_bf16_linear(precision == Precision::BF16);
  Model model;
  model.impl_ = std::move(impl);
  return model;
}

const ModelConfig& Model::config() const { return impl_->config; }
float Model::logit_scale() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->store.f32(schema::kLogitScale)[0];
}
bool Model::jit() const { return impl_->jit; }
Precision Model::precision() const { return impl_->precision; }
const std::string& Model::device() const { return impl_->device; }
void Model::set_num_threads(int threads) { impl_->backend->set_num_threads(threads); }
int Model::num_threads() const { return impl_->backend->num_threads(); }

std::vector<std::string> Model::parameter_names() const {
  std::vector<std::string> names;
  for (const auto& [name, shape] : schema::parameters(impl_->config)) names.push_back(name);
  return names;
}

Tensor Model::parameter(const std::string& name) const {
  if (impl_->jit)
    throw Error("a jit model's weights are prepared for the backend and not readable by name; load with jit = false");
  const core::ThreadScope threads(impl_->backend->num_threads());
  std::lock_guard lock(impl_->mutex);
  return impl_->store.float32(name);
}

void Model::set_parameter(const std::string& name, const Tensor& value) {
  if (impl_->jit) throw Error("a jit model's weights are read-only; load with jit = false to replace parameters");
  {
    std::lock_guard lock(impl_->mutex);
    impl_->store.replace(name, value);
    impl_->text.reset();
    impl_->vit.reset();
    impl_->resnet.reset();
  }
  impl_->backend->clear_weight_cache();
}

Tensor Model::encode_image(const Tensor& images) const {
  const ModelConfig& c = impl_->config;
  const std::int64_t r = c.image_resolution;
  if (images.dtype() != DType::Float32)
    throw Error("encode_image: images must be float32, got " + std::string(dtype_name(images.dtype())));
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != r || images.size(3) != r)
    throw Error("encode_image: expected images of shape [N, 3, " + std::to_string(r) + ", " + std::to_string(r) +
                "], got " + images.shape_string());
  if (images.size(0) == 0) throw Error("encode_image: empty batch");
  Impl& m = *impl_;
  // Fewer threads while other processes hold some of the CPUs (core/threads.h).
  const int requested = m.backend->num_threads();
  const core::AdaptiveThreads adapted(requested);
  const core::ThreadScope threads(adapted.threads());  // binding converts weights too
  const auto encode = [&](const Tensor& x) {
    if (c.vision_is_vit)
      return model::encode_vit(*m.backend, c, m.bound(m.vit, [&] { return model::bind_vit(m.store, c); }), x);
    return model::encode_resnet(*m.backend, c, m.bound(m.resnet, [&] { return model::bind_resnet(m.store, c, m.jit); }),
                                x);
  };
  // Where the load left one thread of several, a batch runs as one-thread parts side by side
  // instead (core::batch_parts, core::batch_in_parts). ViT-B/32 batch 8 beside a busy loop
  // on one of 2 cores, old and new build side by side in bench/compare (medians of 5
  // rounds): 379 -> 308 ms for the first call of a round, 371 -> 272 repeated; bf16 205 ->
  // 187 and 199 -> 158. Not on a quiet machine, where one call's two threads are faster
  // (the worker alone: 212-220 ms against 228-238 in parts).
  const int parts = core::batch_parts(requested, adapted.threads(), images.size(0));
  return parts > 1 ? core::batch_in_parts(images, parts, encode) : encode(images);
}

Tensor Model::encode_text(const Tensor& tokens) const {
  const ModelConfig& c = impl_->config;
  if (tokens.dtype() != DType::Int32 && tokens.dtype() != DType::Int64)
    throw Error("encode_text: tokens must be int32 or int64, got " + std::string(dtype_name(tokens.dtype())));
  if (tokens.dim() != 2 || tokens.size(1) != c.context_length)
    throw Error("encode_text: expected tokens of shape [N, " + std::to_string(c.context_length) + "], got " +
                tokens.shape_string());
  if (tokens.size(0) == 0) throw Error("encode_text: empty batch");
  for (std::int64_t i = 0; i < tokens.numel(); ++i) {
    const std::int64_t id =
        tokens.dtype() == DType::Int32 ? tokens.data<std::int32_t>()[i] : tokens.data<std::int64_t>()[i];
    if (id < 0 || id >= c.vocab_size)
      throw Error("encode_text: token id " + std::to_string(id) + " (row " + std::to_string(i / c.context_length) +
                  ", position " + std::to_string(i % c.context_length) + ") is outside the vocabulary of " +
                  std::to_string(c.vocab_size));
  }
  Impl& m = *impl_;
  const core::AdaptiveThreads adapted(m.backend->num_threads());
  const core::ThreadScope threads(adapted.threads());
  return model::encode_text(*m.backend, c, m.bound(m.text, [&] { return model::bind_text(m.store, c); }), tokens);
}

std::pair<Tensor, Tensor> Model::operator()(const Tensor& images, const Tensor& tokens) const {
  return logits(encode_image(images), encode_text(tokens), logit_scale());
}

}  // namespace clip
