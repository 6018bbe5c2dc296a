#include "io/mapped_file.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "clip/error.h"
#include "core/file.h"

namespace clip::io {

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  std::uint64_t size = 0;
  const core::FileHandle fd = core::open_regular_file(path, "", size);
  std::shared_ptr<MappedFile> file(new MappedFile);
  file->path_ = path;
  file->size_ = static_cast<std::size_t>(size);
  if (file->size_ > 0) {
    void* p = mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) throw Error("cannot map " + path.string() + ": " + std::strerror(errno));
    file->data_ = static_cast<std::uint8_t*>(p);
    file->mapped_ = true;
  }
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
  if (mapped_)
    munmap(data_, size_);
  else
    std::free(data_);
}

}  // namespace clip::io
