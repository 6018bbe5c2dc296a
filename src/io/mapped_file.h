// A whole file mapped into memory, copy-on-write: tensors can point straight into it,
// writing to them never touches the file. Built-in models are held the same way, as a
// private copy of the bytes compiled into the library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

namespace clip::io {

class MappedFile {
 public:
  // Throws clip::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  // A writable copy of `bytes`, named `name` in error messages.
  static std::shared_ptr<MappedFile> copy_of(std::span<const std::uint8_t> bytes, const std::string& name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Drops the pages read so far from this process's memory (they come back from the page
  // cache when touched again). Only before anything writes to the mapping: private copies
  // of written pages would be lost.
  void release_pages();

  std::span<std::uint8_t> bytes() { return {data_, size_}; }
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  std::filesystem::path path_;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;  // munmap, else free
};

}  // namespace clip::io
