#include "io/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "clip/error.h"

namespace clip::io {

void write_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(std::random_device{}());
  std::error_code ec;
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

}  // namespace clip::io
