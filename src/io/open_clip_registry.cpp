// open_clip's pretrained weights for the OpenAI-style architectures, by name: the registry
// (open_clip_registry.inc, generated from open_clip's own table), their download from the
// hub with the configuration written beside them, and hf-hub:ORG/REPO.
#include "clip/atomic_file.h"
#include "clip/error.h"
#include "clip/models.h"
#include "io/hub.h"

namespace clip {
namespace {

struct Pretrained {
  const char* model;
  const char* tag;
  const char* hub_repo;
  const char* hub_file;  // the file open_clip's table names; empty (all 101 today): its defaults
  const char* config;    // open_clip_config.json
};

constexpr Pretrained kPretrained[] = {
#include "io/open_clip_registry.inc"
};

const Pretrained* find_pretrained(const std::string& name) {
  for (const Pretrained& p : kPretrained)
    if (name == std::string(p.model) + ":" + p.tag) return &p;
  return nullptr;
}

// A repository's files in the cache: <root>/open_clip/<org>--<repo>/.
std::filesystem::path repo_folder(const std::string& repo, const DownloadOptions& options) {
  std::string folder = repo;
  for (std::size_t at = 0; (at = folder.find('/', at)) != std::string::npos; at += 2) folder.replace(at, 1, "--");
  return (options.root.empty() ? default_download_root() : options.root) / "open_clip" / folder;
}

// The weights: the hub's safetensors, else its pickle, each kept only when checked against
// the SHA256 the hub publishes (io::download_verified).
std::filesystem::path fetch_weights(const std::string& repo, const std::string& file, const std::filesystem::path& dir,
                                    const DownloadOptions& options) {
  std::vector<std::string> files = {file};
  if (file.empty()) files = {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"};
  std::string failures;
  for (const std::string& f : files) {
    const std::filesystem::path destination = dir / f;
    if (std::filesystem::is_regular_file(destination) && io::verified(destination)) return destination;
    try {
      io::download_verified(io::hub_endpoint() + "/" + repo + "/resolve/main/" + f, destination, "", options.progress);
      return destination;
    } catch (const Error& e) {
      failures += std::string("\n  ") + e.what();
    }
  }
  throw Error("cannot download the weights of " + repo + "; every source failed:" + failures +
              "\n  Offline? Download the repository's open_clip_model.safetensors and open_clip_config.json and pass "
              "the weights' path.");
}

}  // namespace

std::vector<std::string> open_clip_models() {
  std::vector<std::string> names;
  for (const Pretrained& p : kPretrained) names.push_back(std::string(p.model) + ":" + p.tag);
  return names;
}

std::string open_clip_config(const std::string& name) {
  const Pretrained* p = find_pretrained(name);
  if (!p) throw Error("no open_clip model named '" + name + "' (see clip::open_clip_models())");
  return p->config;
}

std::string open_clip_hub_repo(const std::string& name) {
  const Pretrained* p = find_pretrained(name);
  if (!p) throw Error("no open_clip model named '" + name + "' (see clip::open_clip_models())");
  return p->hub_repo;
}

std::filesystem::path download_open_clip_model(const std::string& name, const DownloadOptions& options) {
  std::filesystem::create_directories(options.root.empty() ? default_download_root() : options.root);
  if (name.starts_with("hf-hub:")) {
    const std::string repo = name.substr(7);
    if (repo.empty() || repo.find("..") != std::string::npos || repo.front() == '/')
      throw Error("'" + name + "' does not name a hub repository (hf-hub:ORG/REPO)");
    const std::filesystem::path dir = repo_folder(repo, options);
    std::filesystem::create_directories(dir);
    const std::filesystem::path weights = fetch_weights(repo, "", dir, options);
    // A small JSON file, not hashed by the hub: read as untrusted text and checked against
    // the weights when the model is built.
    download_file(io::hub_endpoint() + "/" + repo + "/resolve/main/open_clip_config.json",
                  dir / "open_clip_config.json", "", options.progress, std::uint64_t{16} << 20);
    return weights;
  }
  const Pretrained* p = find_pretrained(name);
  if (!p) {
    std::string known;
    for (const std::string& n : open_clip_models()) known += (known.empty() ? "" : ", ") + n;
    throw Error("no open_clip model named '" + name + "'; known: " + known);
  }
  const std::filesystem::path dir = repo_folder(p->hub_repo, options) / p->tag;
  std::filesystem::create_directories(dir);
  // The registry's configuration, beside the weights (the weights are the hub's).
  write_atomically(dir / "open_clip_config.json", [&](std::ostream& out) { out << p->config << '\n'; });
  return fetch_weights(p->hub_repo, p->hub_file, dir, options);
}

}  // namespace clip
