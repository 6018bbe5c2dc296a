// Reading zip archives as torch.save / torch.jit.save write them: the central directory
// (zip64 included), stored entries as views into the mapped file, deflated entries
// inflated. CRC-32 is checked on every entry read. Names are unique and entries never
// share bytes (both are refused).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/mapped_file.h"

namespace clip::io {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;  // 0 stored, 8 deflated
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0, size = 0;
  std::uint64_t header_offset = 0;  // of the entry's local header
  std::uint64_t data_offset = 0;    // of the entry's bytes in the file
};

class ZipReader {
 public:
  // Reads the directory; throws clip::Error (naming the file) when it is not a valid zip.
  explicit ZipReader(std::shared_ptr<MappedFile> file);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;

  // The bytes of a stored entry, in place; nullptr-free span. Throws for other methods.
  std::span<std::uint8_t> stored_bytes(const ZipEntry& entry) const;
  // The bytes of any entry (inflated if needed), copied.
  std::vector<std::uint8_t> read(const ZipEntry& entry) const;
  // Checks the entry's CRC-32 (and, when deflated, its size), in constant memory.
  void verify(const ZipEntry& entry) const;

  const std::shared_ptr<MappedFile>& file() const { return file_; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  // Inflates a deflated entry in pieces into `sink`, checking its size and CRC-32.
  void inflate_entry(const ZipEntry& entry, const std::function<void(std::span<const std::uint8_t>)>& sink) const;
  std::shared_ptr<MappedFile> file_;
  std::vector<ZipEntry> entries_;
};

}  // namespace clip::io
