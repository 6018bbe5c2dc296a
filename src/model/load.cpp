// clip.load: a model and its preprocess from a name or a file.
#include "clip/model.h"
#include "clip/models.h"

namespace clip {

std::string default_device() { return "cpu"; }

std::pair<Model, Preprocess> load(const std::string& name_or_path, const std::string& device, bool jit,
                                  const std::filesystem::path& download_root, Precision precision) {
  DownloadOptions options;
  options.root = download_root;
  Model model = Model::from_checkpoint(load_checkpoint(name_or_path, options), device, jit, precision);
  return {model, Preprocess(model.input_resolution())};
}

}  // namespace clip
