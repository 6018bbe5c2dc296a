// make_backend: the one place a device name becomes a backend.
#include "clip/error.h"
#include "runtime/backend.h"

namespace clip::runtime {

std::vector<std::string> backend_names() { return {"cpu", "reference"}; }

std::unique_ptr<Backend> make_backend(const std::string& device) {
  if (device == "cpu") return make_cpu_backend();
  if (device == "reference") return make_reference_backend();
  if (device == "cuda" || device.starts_with("cuda:"))
    throw Error("device '" + device +
                "' is not available: this build of clip-cpp has no CUDA backend (devices: cpu, reference)");
  throw Error("unknown device '" + device + "' (devices: cpu, reference)");
}

}  // namespace clip::runtime
