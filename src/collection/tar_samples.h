// The samples of a tar shard in the webdataset convention, read in order with libarchive:
// members dir/key.ext grouped by key (the path up to the first dot of the file name), as
// webdataset's tar_file_expander and group_by_keys do.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct archive;
struct archive_entry;

namespace clip::collection {

struct TarSample {
  std::string key;
  std::string member;              // the image member embedded ("" when the sample has none)
  std::uint64_t bytes = 0;         // its size
  std::vector<std::uint8_t> data;  // its bytes
  std::string error;               // why the sample cannot be embedded ("" when it can)
};

class TarSamples {
 public:
  // A member larger than this is recorded as an error, never read into memory.
  static constexpr std::uint64_t kMaxMemberBytes = std::uint64_t{1} << 30;

  explicit TarSamples(const std::string& path);  // clip::Error if it cannot be opened
  ~TarSamples();
  TarSamples(const TarSamples&) = delete;
  TarSamples& operator=(const TarSamples&) = delete;

  // The next sample, or nothing at the end. A damaged or truncated archive ends with one
  // sample (key "") whose error says where and why.
  std::optional<TarSample> next();

 private:
  // Adds the member whose header was just read to current_ (its bytes when it is the
  // sample's first image member).
  void take_member(archive_entry* entry, const std::string& member, const std::string& extension);
  void fail(const std::string& why);

  std::string path_;
  archive* archive_ = nullptr;
  std::optional<TarSample> current_;  // the sample being grouped
  std::vector<std::string> members_;  // its members' names
  std::optional<TarSample> failure_;
  bool ended_ = false;
};

}  // namespace clip::collection
