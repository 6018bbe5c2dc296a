#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "clip/error.h"

namespace clip::core {

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

FileHandle open_regular_file(const std::filesystem::path& path, const std::string& what, std::uint64_t& size) {
  const std::string name = what.empty() ? path.string() : what + " " + path.string();
  FileHandle file(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (file.get() < 0) throw Error("cannot open " + name + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(file.get(), &st) != 0) throw Error("cannot read " + name + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error("cannot read " + name + ": it is a directory");
  if (!S_ISREG(st.st_mode)) throw Error("cannot read " + name + ": not a regular file");
  // Regular files never block; reads need not see EAGAIN handling.
  fcntl(file.get(), F_SETFL, fcntl(file.get(), F_GETFL) & ~O_NONBLOCK);
  size = static_cast<std::uint64_t>(st.st_size);
  return file;
}

bool read_at(int fd, void* out, std::size_t n, std::uint64_t offset) {
  auto* bytes = static_cast<std::uint8_t*>(out);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, bytes + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(std::string("read failed: ") + std::strerror(errno));
    if (got == 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

std::vector<std::uint8_t> read_regular_file(const std::filesystem::path& path, const std::string& what,
                                            std::uint64_t max_bytes) {
  const std::string name = what.empty() ? path.string() : what + " " + path.string();
  std::uint64_t size = 0;
  const FileHandle file = open_regular_file(path, what, size);
  if (size > max_bytes)
    throw Error("cannot read " + name + ": " + std::to_string(size) + " bytes is over the limit of " +
                std::to_string(max_bytes));
  std::vector<std::uint8_t> data(static_cast<std::size_t>(size));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(file.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("cannot read " + name + ": " + std::strerror(errno));
    if (n == 0) break;  // the file shrank while we read it: what is there is what we have
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

}  // namespace clip::core
