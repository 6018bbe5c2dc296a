// Webdataset samples of a tar shard (tar_samples.h).
#include "collection/tar_samples.h"

#include <archive.h>
#include <archive_entry.h>

#include "clip/collection.h"
#include "clip/error.h"

namespace clip::collection {
namespace {

// "dir/000123.seg.jpg" -> key "dir/000123", extension "seg.jpg" (webdataset's base_plus_ext).
std::pair<std::string, std::string> split_key(const std::string& member) {
  const std::size_t slash = member.rfind('/');
  const std::size_t dot = member.find('.', slash == std::string::npos ? 0 : slash + 1);
  if (dot == std::string::npos) return {member, ""};
  return {member.substr(0, dot), member.substr(dot + 1)};
}

// A sample with no image member is recorded as such, naming (some of) what it holds.
TarSample finish(TarSample sample, const std::vector<std::string>& members) {
  if (sample.member.empty() && sample.error.empty()) {
    sample.error = "the sample has no image member (it holds";
    for (std::size_t i = 0; i < members.size() && i < 4; ++i) sample.error += (i ? ", " : " ") + members[i];
    sample.error += members.size() > 4 ? ", ...)" : ")";
  }
  return sample;
}

}  // namespace

TarSamples::TarSamples(const std::string& path) : path_(path), archive_(archive_read_new()) {
  if (!archive_) throw Error("cannot read " + path + ": libarchive could not start");
  // Plain and gzip-compressed tar only: libarchive runs external programs for some other
  // filters, and nothing read from an untrusted file should start a program.
  archive_read_support_filter_none(archive_);
  archive_read_support_filter_gzip(archive_);
  archive_read_support_format_tar(archive_);
  if (archive_read_open_filename(archive_, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    const char* why = archive_error_string(archive_);
    const std::string reason = why ? why : "unknown error";
    archive_read_free(archive_);
    archive_ = nullptr;
    throw Error("cannot read tar shard " + path + ": " + reason);
  }
}

TarSamples::~TarSamples() {
  if (archive_) archive_read_free(archive_);
}

void TarSamples::fail(const std::string& why) {
  ended_ = true;
  failure_ = TarSample{"", "", 0, {}, why};
}

void TarSamples::take_member(archive_entry* entry, const std::string& member, const std::string& extension) {
  members_.push_back(member);
  TarSample& s = *current_;
  if (!s.member.empty() || !has_image_extension("x." + extension)) return;  // libarchive skips its data
  s.member = member;
  const la_int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
  if (size < 0) {
    s.error = "its size is not recorded in the tar header";
    return;
  }
  s.bytes = static_cast<std::uint64_t>(size);
  if (s.bytes > kMaxMemberBytes) {
    s.error = "the member is larger than " + std::to_string(kMaxMemberBytes >> 20) + " MiB";
    return;
  }
  s.data.resize(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < s.data.size()) {
    const la_ssize_t n = archive_read_data(archive_, s.data.data() + got, s.data.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != s.data.size()) {
    const char* why = archive_error_string(archive_);
    s.error = "the tar shard ends inside this member";
    s.data.clear();
    fail(std::string("the tar shard is truncated or damaged after ") + member + (why ? std::string(": ") + why : ""));
  }
}

std::optional<TarSample> TarSamples::next() {
  while (!ended_) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(archive_, &entry);
    if (r == ARCHIVE_EOF) {
      ended_ = true;
      break;
    }
    if (r < ARCHIVE_WARN) {
      const char* why = archive_error_string(archive_);
      fail(std::string("the tar shard is damaged: ") + (why ? why : "unknown error"));
      break;
    }
    if (archive_entry_filetype(entry) != AE_IFREG) continue;  // folders, links
    const char* name = archive_entry_pathname(entry);
    const std::string member = name ? name : "";
    const auto [key, extension] = split_key(member);
    if (current_ && current_->key != key) {
      // A new sample begins: group this member into it, hand back the finished one.
      TarSample done = finish(std::move(*current_), members_);
      current_ = TarSample{key, "", 0, {}, ""};
      members_.clear();
      take_member(entry, member, extension);
      return done;
    }
    if (!current_) current_ = TarSample{key, "", 0, {}, ""};
    take_member(entry, member, extension);
  }
  if (current_) {
    TarSample done = finish(std::move(*current_), members_);
    current_.reset();
    return done;
  }
  if (failure_) {
    TarSample f = std::move(*failure_);
    failure_.reset();
    return f;
  }
  return std::nullopt;
}

}  // namespace clip::collection
