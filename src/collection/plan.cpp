// plan_collection and find_images: which files a run embeds, and in which parts.
#include <algorithm>
#include <fstream>
#include <set>
#include <string>

#include "clip/collection.h"
#include "clip/error.h"

namespace clip {
namespace {

namespace fs = std::filesystem;

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// What a folder entry that looks like an image but cannot be read as one is.
std::string why_not_a_file(const fs::file_status& target) {
  if (fs::is_directory(target)) return "it is a folder";
  if (fs::is_fifo(target)) return "it is a FIFO, not a regular file";
  if (fs::is_socket(target)) return "it is a socket, not a regular file";
  if (fs::is_block_file(target) || fs::is_character_file(target)) return "it is a device, not a regular file";
  return "not a regular file";
}

// Folders are walked by hand, never through links to folders (so a link loop cannot make
// the walk endless), and every entry with an image extension (or, with `tars`, a tar
// shard's) ends either in `files` or in `skipped` with its reason: dangling links, link
// loops, FIFOs, devices, folders named x.png and folders that cannot be listed are
// reported, not dropped (issue #15).
void walk_folder(const fs::path& dir, bool tars, FoundImages& out) {
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) out.skipped.emplace_back(dir.string(), "cannot list the folder: " + ec.message());
  for (const fs::directory_entry& entry : entries) {
    const fs::path& path = entry.path();
    const bool wanted = has_image_extension(path) || (tars && is_tar_shard(path));
    const fs::file_status link = entry.symlink_status(ec);
    if (ec) {
      out.skipped.emplace_back(path.string(), ec.message());
      continue;
    }
    if (fs::is_directory(link)) {
      if (wanted) out.skipped.emplace_back(path.string(), "it is a folder");
      walk_folder(path, tars, out);
      continue;
    }
    if (!wanted) continue;
    const fs::file_status target = fs::status(path, ec);
    if (fs::is_regular_file(target))
      out.files.push_back(path.string());
    else if (fs::is_symlink(link) && (ec || !fs::exists(target)))
      out.skipped.emplace_back(path.string(), "a link that leads nowhere (" + (ec ? ec.message() : "dangling") + ")");
    else if (ec)
      out.skipped.emplace_back(path.string(), ec.message());
    else
      out.skipped.emplace_back(path.string(), why_not_a_file(target));
  }
}

FoundImages find(const std::vector<std::string>& inputs, bool tars) {
  FoundImages all;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (!fs::is_directory(input, ec)) {
      all.files.push_back(input);  // a problem with it is reported when it is opened
      continue;
    }
    FoundImages found;
    walk_folder(input, tars, found);
    std::sort(found.files.begin(), found.files.end(),
              [](const std::string& a, const std::string& b) { return fs::path(a) < fs::path(b); });
    std::sort(found.skipped.begin(), found.skipped.end());
    all.files.insert(all.files.end(), found.files.begin(), found.files.end());
    all.skipped.insert(all.skipped.end(), found.skipped.begin(), found.skipped.end());
  }
  return all;
}

// The entries of an input list, relative to the list's folder: the list and the images
// travel together, whatever folder a worker starts in.
std::vector<std::string> read_input_list(const fs::path& list) {
  std::error_code ec;
  if (!fs::is_regular_file(list, ec)) throw Error("cannot read input list " + list.string() + ": not a regular file");
  std::ifstream in(list);
  if (!in) throw Error("cannot open input list " + list.string());
  std::vector<std::string> entries;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const fs::path p(line);
    entries.push_back((p.is_absolute() ? p : list.parent_path() / p).string());
  }
  return entries;
}

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

}  // namespace

bool has_image_extension(const fs::path& path) {
  // Every extension Pillow registers for the formats the library decodes, and HEIC/AVIF (issue #14:
  // .jfif, .mpo and others were skipped silently).
  static const std::set<std::string> known = {
      ".jpg",  ".jpeg", ".jpe", ".jfif", ".jif", ".mpo", ".png", ".apng", ".gif", ".webp", ".bmp", ".dib",
      ".tif",  ".tiff", ".pbm", ".pgm",  ".ppm", ".pnm", ".tga", ".icb",  ".vda", ".vst",  ".ico", ".cur",
      ".heic", ".heif", ".hif", ".avif", ".psd", ".dds", ".jp2", ".j2k",  ".j2c", ".jpc",  ".jpf", ".jpx"};
  return known.count(lower_extension(path)) != 0;
}

bool is_tar_shard(const fs::path& path) {
  std::string name = path.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return ends_with(name, ".tar") || ends_with(name, ".tar.gz") || ends_with(name, ".tgz");
}

bool is_input_list(const fs::path& path) { return lower_extension(path) == ".txt"; }

FoundImages find_images(const std::vector<std::string>& inputs) { return find(inputs, false); }

CollectionPlan plan_collection(const std::vector<std::string>& inputs, std::size_t part_size) {
  if (part_size < 1) throw Error("the part size must be at least 1");
  // Lists expand in place, once (a list naming a list is an error, not a loop).
  std::vector<std::string> expanded;
  for (const std::string& input : inputs) {
    if (!is_input_list(input)) {
      expanded.push_back(input);
      continue;
    }
    for (std::string& entry : read_input_list(input)) {
      if (is_input_list(entry)) throw Error("input list " + input + " names another list, " + entry);
      expanded.push_back(std::move(entry));
    }
  }
  CollectionPlan plan;
  const FoundImages found = find(expanded, true);
  for (const auto& [path, reason] : found.skipped) plan.skipped.emplace_back(absolute(path), reason);
  Shard files;
  const auto close_files = [&] {
    if (!files.files.empty()) plan.shards.push_back(std::move(files));
    files = Shard{};
  };
  for (const std::string& path : found.files) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error("no such input: " + path);
    if (is_tar_shard(path)) {
      close_files();
      plan.shards.push_back(Shard{{}, absolute(path)});
      continue;
    }
    files.files.push_back(absolute(path));
    if (files.files.size() == part_size) close_files();
  }
  close_files();
  return plan;
}

}  // namespace clip
