// clip.load: a model and its preprocess from a name or a file.
#include <iostream>

#include "clip/model.h"
#include "clip/models.h"

namespace clip {

std::string default_device() { return "cpu"; }

Preprocess preprocess_for(const ModelConfig& c) {
  return Preprocess(PreprocessConfig{c.image_resolution, c.image_mean, c.image_std, c.interpolation, c.resize_mode});
}

std::pair<Model, Preprocess> load(const std::string& name_or_path, const std::string& device, bool jit,
                                  const std::filesystem::path& download_root, Precision precision,
                                  const std::filesystem::path& config) {
  DownloadOptions options;
  options.root = download_root;
  const Checkpoint checkpoint = load_checkpoint(name_or_path, options, config);
  Model model = Model::from_checkpoint(checkpoint, device, jit, precision);
  if (model.config().source == "assumed")
    std::cerr << "clip: warning: " << checkpoint.path().string()
              << " has no open_clip_config.json: read by OpenAI's rules (QuickGELU, heads = width / 64); if it is an "
                 "open_clip model, put its open_clip_config.json beside it or name it (config= / --config FILE)\n";
  return {model, preprocess_for(model.config())};
}

}  // namespace clip
