// The checkpoint file readers behind clip::Checkpoint::load.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clip/checkpoint.h"

namespace clip::io {

struct LoadedTensors {
  std::string format;
  std::vector<std::pair<std::string, Tensor>> tensors;  // OpenAI names, file order
  std::optional<Activation> activation;                 // when the file or its config says
};

// torch.jit.save archives and torch.save zip files.
LoadedTensors read_torch_zip(const std::filesystem::path& path);
// .safetensors (OpenAI/open_clip names, or Hugging Face names renamed to OpenAI's).
LoadedTensors read_safetensors(const std::filesystem::path& path);

}  // namespace clip::io
