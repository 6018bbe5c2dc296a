// The nine official CLIP models (names, where their weights live, download and cache) and
// the models built into the library.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "clip/checkpoint.h"
#include "clip/export.h"

namespace clip {

// "RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32", "ViT-B/16", "ViT-L/14",
// "ViT-L/14@336px", in the reference's order.
CLIP_API std::vector<std::string> available_models();

// Models compiled into the library, opened by clip::load without network: "demo-shapes",
// a small ViT CLIP trained on synthetic coloured shapes (models/README.md).
CLIP_API std::vector<std::string> builtin_models();

struct CLIP_API DownloadOptions {
  // Cache folder; empty: $CLIP_CACHE_DIR, else $XDG_CACHE_HOME/clip, else ~/.cache/clip.
  std::filesystem::path root;
  // Base URL of a mirror holding the official files (<mirror>/ViT-B-32.pt ...), tried first
  // and checked against the official SHA256. Empty: $CLIP_MIRROR.
  std::string mirror;
  // Use only the mirror, never the public hosts (air-gapped sites). Also set by
  // $CLIP_MIRROR_ONLY=1.
  bool mirror_only = false;
  // A progress bar on stderr while downloading, when stderr is a terminal.
  bool progress = true;
};

CLIP_API std::filesystem::path default_download_root();

// The cached file for `name` (ViT-B-32.pt or ViT-B-32.safetensors under the root), or an
// empty path when it is not cached.
CLIP_API std::filesystem::path cached_model(const std::string& name, const DownloadOptions& options = {});

// Returns the cached file for `name`, downloading it first if needed: from the mirror,
// then the Hugging Face copies open_clip publishes (open_clip_model.safetensors, checked
// against the hub's published SHA256), then the original OpenAI URLs (checked against the
// SHA256 in the URL). An interrupted download resumes where the server allows. Every
// failure is a clip::Error that lists what each source answered.
CLIP_API std::filesystem::path download_model(const std::string& name, const DownloadOptions& options = {});

// The most download_file takes by default: more than any CLIP checkpoint (the largest,
// RN50x64, has 623 M parameters: 2.5 GB even in fp32), and a stop for an endless body.
inline constexpr std::uint64_t kMaxDownloadBytes = std::uint64_t{4} << 30;

// Downloads `url` to `destination` through `destination.part` (resumed if present; never
// through a link planted there), checks `sha256` when given (hex; else the hub's published
// hash, when it sends one), then renames. The body stops at its Content-Length or at
// `max_bytes`, whichever is first. Only a file checked against a hash is marked verified
// (destination.sha256) and so used by cached_model. Returns the SHA256 of the file.
CLIP_API std::string download_file(const std::string& url, const std::filesystem::path& destination,
                                   const std::string& sha256 = "", bool progress = true,
                                   std::uint64_t max_bytes = kMaxDownloadBytes);

// open_clip's pretrained models of the architectures this library runs (OpenAI-style
// VisionTransformer or ModifiedResNet with the OpenAI-style text tower), as "MODEL:TAG"
// names in open_clip's order: "ViT-H-14:laion2b_s32b_b79k", "ViT-B-16-quickgelu:dfn2b" ...
// (101 pairs, from open_clip v3.3.0's table; tools/gen_open_clip_registry.py).
CLIP_API std::vector<std::string> open_clip_models();
// A "MODEL:TAG" model's open_clip_config.json, as the registry holds it (a tag trained with
// QuickGELU gets "quick_gelu": true, whatever its plain config says).
CLIP_API std::string open_clip_config(const std::string& name);
CLIP_API std::string open_clip_hub_repo(const std::string& name);  // "laion/CLIP-ViT-H-14-laion2B-s32B-b79K" ...
// The weights of a "MODEL:TAG" model, or of "hf-hub:ORG/REPO" (any open_clip repository),
// from the model hub ($CLIP_HUB_ENDPOINT to use a mirror of it), cached under
// <root>/open_clip/ and checked against the SHA256 the hub publishes, with the
// open_clip_config.json beside them (the registry's, or the repository's). Returns the
// weights' path.
CLIP_API std::filesystem::path download_open_clip_model(const std::string& name, const DownloadOptions& options = {});

// The one rule by which a model is found (clip::load, `clip inspect`, the tool's --model):
// a built-in model (no network), then a name from available_models() (the cached file,
// downloaded first if needed), then the path of a checkpoint file, then an open_clip name
// ("MODEL:TAG" or "hf-hub:ORG/REPO", downloaded with its configuration). An unknown name that is
// no file is a clip::Error listing the names. `config`: an open_clip_config.json for the
// file (Checkpoint::load).
CLIP_API Checkpoint load_checkpoint(const std::string& name_or_path, const DownloadOptions& options = {},
                                    const std::filesystem::path& config = {});

// Hex SHA256 of a file.
CLIP_API std::string sha256_file(const std::filesystem::path& path);

}  // namespace clip
