#include "clip/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "clip/error.h"

namespace clip {

void write_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    // /dev/null, a pipe, a terminal: write into it; renaming over it would replace it.
    if (std::filesystem::is_directory(status)) throw Error("cannot write " + path.string() + ": it is a folder");
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error("cannot write " + path.string() + ": " + std::strerror(errno));
    write(out);
    out.flush();
    if (!out) throw Error("cannot write " + path.string());
    return;
  }
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(std::random_device{}());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write " + path.string() + ": " + std::strerror(errno));
    write(out);
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      throw Error("cannot write " + path.string() + " (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("cannot write " + path.string() + ": " + ec.message());
  }
}

}  // namespace clip
