// The checkpoint file readers behind clip::Checkpoint::load.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clip/checkpoint.h"
#include "io/mapped_file.h"

namespace clip::io {

struct LoadedTensors {
  std::string format;
  std::vector<std::pair<std::string, Tensor>> tensors;  // OpenAI names, file order
  std::optional<Activation> activation;                 // when the file or its config says
};

// torch.jit.save archives and torch.save zip files.
LoadedTensors read_torch_zip(std::shared_ptr<MappedFile> file);
// .safetensors (OpenAI/open_clip names, or Hugging Face names renamed to OpenAI's; a
// config.json beside the file gives the activation).
LoadedTensors read_safetensors(std::shared_ptr<MappedFile> file);

}  // namespace clip::io
