#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "clip/error.h"

namespace clip::io {

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("cannot read " + path.string() + ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile);
  file->path_ = path;
  file->size_ = static_cast<std::size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error("cannot map " + path.string() + ": " + std::strerror(err));
    }
    file->data_ = static_cast<std::uint8_t*>(p);
    file->mapped_ = true;
  }
  ::close(fd);
  return file;
}

std::shared_ptr<MappedFile> MappedFile::copy_of(std::span<const std::uint8_t> bytes, const std::string& name) {
  std::shared_ptr<MappedFile> file(new MappedFile);
  file->path_ = name;
  file->size_ = bytes.size();
  if (!bytes.empty()) {
    // 64-byte aligned like a mapping, so tensors inside keep their alignment.
    file->data_ = static_cast<std::uint8_t*>(std::aligned_alloc(64, (bytes.size() + 63) / 64 * 64));
    if (!file->data_) throw Error("out of memory copying " + name);
    std::memcpy(file->data_, bytes.data(), bytes.size());
  }
  return file;
}

void MappedFile::release_pages() {
  if (mapped_) madvise(data_, size_, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (mapped_) munmap(data_, size_);
  else std::free(data_);
}

}  // namespace clip::io
