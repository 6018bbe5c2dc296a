#include "test_data.h"

#include <cstdlib>

namespace clip::test {

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("CLIP_SHARED_DIR")) return env;
  const std::filesystem::path dir = CLIP_SHARED_DIR;
  return std::filesystem::exists(dir) ? std::filesystem::canonical(dir) : std::filesystem::path{};
}

}  // namespace clip::test
