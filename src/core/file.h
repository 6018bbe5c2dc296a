// Opening files whose names come from users or from folders nobody checked: only regular
// files, and never a call that blocks. A FIFO opened for reading blocks until a writer
// comes, and a directory read as a file gave std::bad_alloc (issue #15), so every reader
// of user-named input files goes through here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace clip::core {

// An open file descriptor, closed on destruction.
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  FileHandle(FileHandle&& other) noexcept : fd_(other.release()) {}
  FileHandle& operator=(FileHandle&&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Opens `path` for reading: O_NONBLOCK while opening (so a FIFO cannot block), then
// refuses anything that is not a regular file with clip::Error("cannot read <what>
// <path>: it is a directory" / "...not a regular file"). `size` receives the file size.
FileHandle open_regular_file(const std::filesystem::path& path, const std::string& what, std::uint64_t& size);

// Reads `n` bytes at `offset` (pread, retried on EINTR and short reads). False when the file
// ends first; an I/O error is a clip::Error.
bool read_at(int fd, void* out, std::size_t n, std::uint64_t offset);

// The whole of a regular file, opened as above; refused when larger than `max_bytes`.
std::vector<std::uint8_t> read_regular_file(const std::filesystem::path& path, const std::string& what,
                                            std::uint64_t max_bytes);

}  // namespace clip::core
