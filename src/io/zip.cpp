#include "io/zip.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "clip/error.h"

namespace clip::io {
namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) { return le16(p) | (static_cast<std::uint32_t>(le16(p + 2)) << 16); }
std::uint64_t le64(const std::uint8_t* p) { return le32(p) | (static_cast<std::uint64_t>(le32(p + 4)) << 32); }

constexpr std::uint32_t kEndOfDirectory = 0x06054b50, kZip64EndOfDirectory = 0x06064b50, kZip64Locator = 0x07064b50,
                        kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr std::size_t kMaxEntries = 1 << 20;

}  // namespace

void ZipReader::fail(const std::string& what) const {
  throw Error("cannot read " + file_->path().string() + ": " + what);
}

ZipReader::ZipReader(std::shared_ptr<MappedFile> file) : file_(std::move(file)) {
  const auto bytes = file_->bytes();
  const std::uint8_t* d = bytes.data();
  const std::size_t size = bytes.size();
  if (size < 22) fail("too small to be a zip archive (truncated?)");
  // The end-of-directory record is within the last 22 + 65535 bytes.
  std::size_t eocd = std::string::npos;
  for (std::size_t i = size - 22 + 1; i-- > (size > 22 + 65535 ? size - 22 - 65535 : 0);) {
    if (le32(d + i) == kEndOfDirectory) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) fail("no zip end-of-directory record (not a zip file, or truncated)");
  std::uint64_t count = le16(d + eocd + 10), dir_size = le32(d + eocd + 12), dir_offset = le32(d + eocd + 16);
  if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {
    if (eocd < 20 || le32(d + eocd - 20) != kZip64Locator) fail("zip64 locator missing");
    const std::uint64_t record = le64(d + eocd - 20 + 8);
    if (size < 56 || record > size - 56 || le32(d + record) != kZip64EndOfDirectory)
      fail("bad zip64 end-of-directory record");
    count = le64(d + record + 32);
    dir_size = le64(d + record + 40);
    dir_offset = le64(d + record + 48);
  }
  if (dir_offset > size || dir_size > size - dir_offset)
    fail("zip central directory lies outside the file (truncated?)");
  if (count > kMaxEntries) fail("too many zip entries");

  std::size_t pos = dir_offset;
  const std::size_t dir_end = dir_offset + dir_size;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (dir_end - pos < 46 || le32(d + pos) != kDirectoryEntry) fail("corrupt zip central directory");
    ZipEntry e;
    const std::uint16_t flags = le16(d + pos + 8);
    e.method = le16(d + pos + 10);
    e.crc32 = le32(d + pos + 16);
    e.compressed_size = le32(d + pos + 20);
    e.size = le32(d + pos + 24);
    const std::size_t name_len = le16(d + pos + 28), extra_len = le16(d + pos + 30), comment_len = le16(d + pos + 32);
    std::uint64_t local = le32(d + pos + 42);
    if (dir_end - pos - 46 < name_len + extra_len + comment_len) fail("corrupt zip central directory");
    if (flags & 1) fail("encrypted zip entries are not supported");
    e.name.assign(reinterpret_cast<const char*>(d + pos + 46), name_len);
    // Zip64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
    for (std::size_t x = pos + 46 + name_len; x + 4 <= pos + 46 + name_len + extra_len;) {
      const std::uint16_t id = le16(d + x), len = le16(d + x + 2);
      if (x + 4 + len > pos + 46 + name_len + extra_len) fail("corrupt zip extra field");
      if (id == 0x0001) {
        std::size_t at = x + 4;
        const auto next = [&](std::uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          if (at + 8 > x + 4 + len) fail("corrupt zip64 extra field");
          field = le64(d + at);
          at += 8;
        };
        next(e.size);
        next(e.compressed_size);
        next(local);
      }
      x += 4 + len;
    }
    if (size < 30 || local > size - 30 || le32(d + local) != kLocalHeader)
      fail("corrupt zip local header for " + e.name);
    e.header_offset = local;
    e.data_offset = local + 30 + le16(d + local + 26) + le16(d + local + 28);
    if (e.data_offset > size || e.compressed_size > size - e.data_offset)
      fail("zip entry " + e.name + " extends past the end of the file (truncated?)");
    if (e.method == 0 && e.compressed_size != e.size) fail("corrupt zip entry " + e.name);
    entries_.push_back(std::move(e));
    pos += 46 + name_len + extra_len + comment_len;
  }
  // One entry per name, and no two entries sharing bytes: readers could otherwise resolve
  // a duplicate name in different ways, and aliased entries multiply the work of a
  // deflate bomb by their number (issue #15).
  std::unordered_set<std::string_view> names;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;  // [local header, end of data)
  for (const ZipEntry& entry : entries_) {
    if (!names.insert(entry.name).second) fail("zip entry " + entry.name + " appears twice");
    spans.emplace_back(entry.header_offset, entry.data_offset + entry.compressed_size);
  }
  std::sort(spans.begin(), spans.end());
  for (std::size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) fail("zip entries overlap (corrupt or hostile file)");
}

const ZipEntry* ZipReader::find(std::string_view name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::span<std::uint8_t> ZipReader::stored_bytes(const ZipEntry& entry) const {
  if (entry.method != 0) fail("zip entry " + entry.name + " is compressed, expected stored");
  return file_->bytes().subspan(entry.data_offset, entry.size);
}

void ZipReader::verify(const ZipEntry& entry) const {
  if (entry.method != 0) return inflate_entry(entry, [](std::span<const std::uint8_t>) {});
  const auto bytes = stored_bytes(entry);
  std::uint32_t crc = 0;
  // libdeflate_crc32 takes a size_t; feed very large entries in pieces.
  for (std::size_t at = 0; at < bytes.size(); at += std::size_t{1} << 30)
    crc = libdeflate_crc32(crc, bytes.data() + at, std::min(bytes.size() - at, std::size_t{1} << 30));
  if (crc != entry.crc32) fail("CRC mismatch in zip entry " + entry.name + " (corrupt file)");
}

// Inflated through a fixed buffer (zlib's streaming inflate; libdeflate has none), so
// checking a deflate bomb costs time bounded by its declared size and no memory (issue
// #15: 4 GiB of zeros took 4.2 GB when inflated whole).
void ZipReader::inflate_entry(const ZipEntry& entry,
                              const std::function<void(std::span<const std::uint8_t>)>& sink) const {
  if (entry.method != 8)
    fail("zip entry " + entry.name + " uses unsupported compression " + std::to_string(entry.method));
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) fail("cannot start zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::vector<std::uint8_t> buffer(1 << 18);
  const std::uint8_t* in = file_->bytes().data() + entry.data_offset;
  std::uint64_t in_left = entry.compressed_size, produced = 0;
  std::uint32_t crc = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0 && in_left > 0) {
      z.next_in = const_cast<Bytef*>(in);  // zlib's API is not const-correct; it does not write
      z.avail_in = static_cast<uInt>(std::min<std::uint64_t>(in_left, 1u << 30));
      in += z.avail_in;
      in_left -= z.avail_in;
    }
    z.next_out = buffer.data();
    z.avail_out = static_cast<uInt>(buffer.size());
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) fail("corrupt compressed zip entry " + entry.name);
    const std::size_t n = buffer.size() - z.avail_out;
    produced += n;
    if (produced > entry.size) fail("zip entry " + entry.name + " inflates past its declared size (corrupt file)");
    crc = libdeflate_crc32(crc, buffer.data(), n);
    sink({buffer.data(), n});
    if (rc == Z_OK && n == 0 && z.avail_in == 0 && in_left == 0) fail("truncated compressed zip entry " + entry.name);
  }
  if (produced != entry.size)
    fail("zip entry " + entry.name + " inflates to less than its declared size (corrupt file)");
  if (crc != entry.crc32) fail("CRC mismatch in zip entry " + entry.name + " (corrupt file)");
}

std::vector<std::uint8_t> ZipReader::read(const ZipEntry& entry) const {
  if (entry.method == 0) {
    verify(entry);
    const auto bytes = stored_bytes(entry);
    return {bytes.begin(), bytes.end()};
  }
  // Deflate expands at most 1032:1: check the declared size before reserving for it.
  if (entry.size > (std::uint64_t{1} << 32) || entry.size / 1032 > entry.compressed_size + 1)
    fail("zip entry " + entry.name + " declares an impossible size (corrupt file)");
  std::vector<std::uint8_t> out;
  out.reserve(entry.size);
  inflate_entry(entry, [&](std::span<const std::uint8_t> part) { out.insert(out.end(), part.begin(), part.end()); });
  return out;
}

}  // namespace clip::io
