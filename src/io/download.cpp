// Model download and cache: libcurl for HTTP (redirects, resume, timeouts), OpenSSL for
// SHA256. Files are written as <name>.part and renamed only once verified.
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include "clip/atomic_file.h"
#include "clip/error.h"
#include "clip/models.h"
#include "core/hex.h"
#include "io/hub.h"

namespace clip {
namespace {

struct OfficialModel {
  const char* name;
  const char* file;      // cache file stem, as the reference names the download
  const char* sha256;    // of the OpenAI .pt file
  const char* hub_repo;  // open_clip's copy on the Hugging Face hub
};

constexpr OfficialModel kModels[] = {
    {"RN50", "RN50", "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", "timm/resnet50_clip.openai"},
    {"RN101", "RN101", "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599",
     "timm/resnet101_clip.openai"},
    {"RN50x4", "RN50x4", "7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd",
     "timm/resnet50x4_clip.openai"},
    {"RN50x16", "RN50x16", "52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa",
     "timm/resnet50x16_clip.openai"},
    {"RN50x64", "RN50x64", "be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c",
     "timm/resnet50x64_clip.openai"},
    {"ViT-B/32", "ViT-B-32", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
     "timm/vit_base_patch32_clip_224.openai"},
    {"ViT-B/16", "ViT-B-16", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f",
     "timm/vit_base_patch16_clip_224.openai"},
    {"ViT-L/14", "ViT-L-14", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
     "timm/vit_large_patch14_clip_224.openai"},
    {"ViT-L/14@336px", "ViT-L-14-336px", "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
     "timm/vit_large_patch14_clip_336.openai"},
};

const OfficialModel& find_model(const std::string& name) {
  for (const OfficialModel& m : kModels)
    if (name == m.name) return m;
  std::string names;
  for (const OfficialModel& m : kModels) names += std::string(names.empty() ? "" : ", ") + m.name;
  for (const std::string& builtin : builtin_models()) names += ", " + builtin + " (built in)";
  throw Error("Model " + name + " not found; available models = [" + names + "]");
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void ensure_curl() {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) throw Error("cannot initialise libcurl");
}

std::string human_bytes(double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024.0));
  return buf;
}

struct Transfer {
  CURL* curl = nullptr;
  std::FILE* out = nullptr;
  std::uint64_t max_bytes = 0;  // of the whole file, resumed part included
  std::uint64_t written = 0;    // by this request
  bool too_large = false;
  bool finished_drawing = false;
  bool first_write = true;
  std::filesystem::path part;
  curl_off_t resumed_from = 0;
  bool restarted = false;
  std::map<std::string, std::string> headers;  // lower-case names, last response wins
  std::string linked_etag;                     // the hub's X-Linked-Etag (SHA256 of the file)
  bool progress = false;
  std::string label;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last_draw;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    while (!value.empty() && (value.front() == ' ' || value.front() == '"')) value.erase(0, 1);
    while (!value.empty() && value.back() == '"') value.pop_back();
    t->headers[name] = value;
    if (name == "x-linked-etag") t->linked_etag = value;
  }
  return size * n;
}

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->first_write) {
    t->first_write = false;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->resumed_from > 0 && status == 200) {  // the server ignored the range: start over
      // In place on the open descriptor: reopening by name could follow a planted link.
      if (std::fflush(t->out) != 0 || ftruncate(fileno(t->out), 0) != 0 || std::fseek(t->out, 0, SEEK_SET) != 0)
        return 0;
      t->resumed_from = 0;
    }
  }
  // An endless or lying body stops at the limit (returning less than given aborts).
  t->written += size * n;
  if (static_cast<std::uint64_t>(t->resumed_from) + t->written > t->max_bytes) {
    t->too_large = true;
    return 0;
  }
  return std::fwrite(data, size, n, t->out) * size;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->progress || total <= 0 || t->finished_drawing) return 0;
  const auto clock = std::chrono::steady_clock::now();
  if (now < total && clock - t->last_draw < std::chrono::milliseconds(200)) return 0;
  t->last_draw = clock;
  const double seconds = std::chrono::duration<double>(clock - t->start).count();
  const double rate = seconds > 0 ? static_cast<double>(now) / seconds : 0;
  const double done = static_cast<double>(t->resumed_from + now), all = static_cast<double>(t->resumed_from + total);
  const int eta = rate > 0 ? static_cast<int>((total - now) / rate) : 0;
  std::fprintf(stderr, "\r%s %3.0f%% %s / %s  %s/s  ETA %ds   ", t->label.c_str(), 100.0 * done / all,
               human_bytes(done).c_str(), human_bytes(all).c_str(), human_bytes(rate).c_str(), eta);
  if (now == total) {  // curl reports the end more than once: one final line
    std::fprintf(stderr, "\n");
    t->finished_drawing = true;
  }
  return 0;
}

// One HTTP GET into t.out; throws clip::Error with curl's reason.
void fetch(const std::string& url, Transfer& t) {
  ensure_curl();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("cannot initialise libcurl");
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  t.curl = c;
  t.first_write = true;
  t.written = 0;
  t.too_large = false;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // give up on a stalled transfer
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "clip-cpp/0.1");
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  if (t.resumed_from > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, t.resumed_from);
  // A declared size over the limit fails before the body (the body is also counted).
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t.max_bytes));
  const CURLcode rc = curl_easy_perform(c);
  // Either our count stopped it or curl did (curl 8 also enforces MAXFILESIZE mid-body).
  if (rc == CURLE_FILESIZE_EXCEEDED) t.too_large = true;
  if (t.too_large)
    throw Error(url + ": the file is larger than the limit of " + std::to_string(t.max_bytes) +
                " bytes; download stopped");
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && status == 416 && t.resumed_from > 0)) {
    // The server refused the range (e.g. the partial file is stale): start again.
    t.restarted = true;
    return;
  }
  if (rc != CURLE_OK) {
    std::string reason = error[0] ? error : curl_easy_strerror(rc);
    if (rc == CURLE_HTTP_RETURNED_ERROR) reason = "HTTP " + std::to_string(status);
    throw Error(url + ": " + reason);
  }
}

bool is_hex_sha256(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// "<file>.sha256" beside a verified download: its hash and size, so that later loads need
// not hash hundreds of megabytes again.
void write_marker(const std::filesystem::path& file, const std::string& sha) {
  const std::filesystem::path marker = file.string() + ".sha256";
  std::error_code ec;
  std::filesystem::remove(marker, ec);  // a planted link is removed, never written through
  const auto size = std::filesystem::file_size(file);
  write_atomically(marker, [&](std::ostream& out) { out << sha << ' ' << size << '\n'; });
}

// Opens `part` for writing without following a link there (a link planted in the cache
// would make the download truncate or overwrite its target, issue #15); appends when
// resuming. A link or anything else that is not a regular file is removed first.
std::FILE* open_part(const std::filesystem::path& part, bool append) {
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(part, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    std::filesystem::remove(part, ec);
  const int fd =
      ::open(part.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
  if (fd < 0) throw Error("cannot write " + part.string() + ": " + std::strerror(errno));
  std::FILE* f = fdopen(fd, append ? "ab" : "wb");
  if (!f) {
    ::close(fd);
    throw Error("cannot write " + part.string() + ": " + std::strerror(errno));
  }
  return f;
}

// Creates the cache folder readable by its owner only (models are not secret, but others
// must not plant files in it).
void create_cache_folder(const std::filesystem::path& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
}

}  // namespace

namespace io {

bool verified(const std::filesystem::path& file, const std::string& expected_sha) {
  std::ifstream in(file.string() + ".sha256");
  std::string sha;
  std::uintmax_t size = 0;
  if (!(in >> sha >> size)) return false;
  std::error_code ec;
  return size == std::filesystem::file_size(file, ec) && !ec && (expected_sha.empty() || sha == expected_sha);
}

std::string hub_endpoint() {
  std::string endpoint = env("CLIP_HUB_ENDPOINT");
  if (endpoint.empty()) endpoint = "https://huggingface.co";
  while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

void download_verified(const std::string& url, const std::filesystem::path& destination, const std::string& sha256,
                       bool progress) {
  download_file(url, destination, sha256, progress);
  if (!verified(destination, sha256)) {  // nothing to check it against
    std::error_code ec;
    std::filesystem::remove(destination, ec);
    throw Error(url + ": the server published no SHA256 for the file, so it cannot be verified");
  }
}

}  // namespace io

std::vector<std::string> available_models() {
  std::vector<std::string> names;
  for (const OfficialModel& m : kModels) names.emplace_back(m.name);
  return names;
}

std::filesystem::path default_download_root() {
  if (const std::string dir = env("CLIP_CACHE_DIR"); !dir.empty()) return dir;
  if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return std::filesystem::path(xdg) / "clip";
  if (const std::string home = env("HOME"); !home.empty()) return std::filesystem::path(home) / ".cache" / "clip";
  return std::filesystem::temp_directory_path() / "clip";
}

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("OpenSSL: cannot start SHA256");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error("cannot read " + path.string());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  return core::hex(digest, len);
}

std::string download_file(const std::string& url, const std::filesystem::path& destination, const std::string& sha256,
                          bool progress, std::uint64_t max_bytes) {
  std::error_code ec;
  create_cache_folder(destination.parent_path());
  Transfer t;
  t.part = destination.string() + ".part";
  t.progress = progress && isatty(STDERR_FILENO);
  t.label = destination.filename().string();
  t.max_bytes = max_bytes;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto part_status = std::filesystem::symlink_status(t.part, ec);
    t.resumed_from = attempt == 0 && std::filesystem::is_regular_file(part_status)
                         ? static_cast<curl_off_t>(std::filesystem::file_size(t.part, ec))
                         : 0;
    if (ec) t.resumed_from = 0;
    t.restarted = false;
    t.out = open_part(t.part, t.resumed_from > 0);
    try {
      fetch(url, t);
    } catch (...) {
      std::fclose(t.out);  // a partial file stays, for a later resume; an empty or oversized one goes
      if (t.too_large || std::filesystem::file_size(t.part, ec) == 0) std::filesystem::remove(t.part, ec);
      throw;
    }
    const bool write_failed = std::fclose(t.out) != 0;
    if (write_failed) throw Error("cannot write " + t.part.string() + " (disk full?)");
    if (!t.restarted) break;
  }
  // Where no SHA256 was given, the hub's published hash of the file is used.
  const std::string expected = !sha256.empty() ? sha256 : (is_hex_sha256(t.linked_etag) ? t.linked_etag : "");
  const std::string actual = sha256_file(t.part);
  if (!expected.empty() && actual != expected) {
    std::filesystem::remove(t.part, ec);
    throw Error("downloaded " + url + " but its SHA256 " + actual + " does not match the expected " + expected);
  }
  std::filesystem::remove(destination.string() + ".sha256", ec);  // the old file's marker, if any
  std::filesystem::rename(t.part, destination, ec);
  if (ec) throw Error("cannot move the download to " + destination.string() + ": " + ec.message());
  // Only a file checked against a known hash is marked verified (issue #15).
  if (!expected.empty()) write_marker(destination, actual);
  return actual;
}

std::filesystem::path cached_model(const std::string& name, const DownloadOptions& options) {
  const OfficialModel& m = find_model(name);
  const std::filesystem::path root = options.root.empty() ? default_download_root() : options.root;
  const std::filesystem::path pt = root / (std::string(m.file) + ".pt");
  if (std::filesystem::is_regular_file(pt) && io::verified(pt, m.sha256)) return pt;
  const std::filesystem::path st = root / (std::string(m.file) + ".safetensors");
  if (std::filesystem::is_regular_file(st) && io::verified(st)) return st;
  return {};
}

std::filesystem::path download_model(const std::string& name, const DownloadOptions& options) {
  const OfficialModel& m = find_model(name);
  const std::filesystem::path root = options.root.empty() ? default_download_root() : options.root;
  if (auto cached = cached_model(name, options); !cached.empty()) return cached;

  const std::filesystem::path pt = root / (std::string(m.file) + ".pt");
  // A file without a (matching) marker: verify it, as the reference does on every load.
  if (std::filesystem::is_regular_file(pt)) {
    if (sha256_file(pt) == m.sha256) {
      write_marker(pt, m.sha256);
      return pt;
    }
    std::fprintf(stderr, "clip: %s exists, but the SHA256 checksum does not match; re-downloading the file\n",
                 pt.c_str());
  }

  std::string mirror = !options.mirror.empty() ? options.mirror : env("CLIP_MIRROR");
  // A folder is a mirror too (issue #14: "/some/dir" was a "bad/illegal format" URL).
  if (!mirror.empty() && mirror.find("://") == std::string::npos)
    mirror = "file://" + std::filesystem::absolute(mirror).lexically_normal().string();
  while (mirror.size() > 1 && mirror.back() == '/') mirror.pop_back();
  const bool mirror_only = options.mirror_only || env("CLIP_MIRROR_ONLY") == "1";
  struct Source {
    std::string url;
    std::filesystem::path destination;
    std::string sha256;
  };
  std::vector<Source> sources;
  if (!mirror.empty()) sources.push_back({mirror + "/" + m.file + ".pt", pt, m.sha256});
  if (!mirror_only) {
    sources.push_back({io::hub_endpoint() + "/" + m.hub_repo + "/resolve/main/open_clip_model.safetensors",
                       root / (std::string(m.file) + ".safetensors"), ""});
    sources.push_back({std::string("https://openaipublic.azureedge.net/clip/models/") + m.sha256 + "/" + m.file + ".pt",
                       pt, m.sha256});
  }
  if (sources.empty())
    throw Error("cannot download " + name + ": mirror-only mode, but no mirror is set (CLIP_MIRROR)");
  std::string failures;
  for (const Source& s : sources) {
    try {
      io::download_verified(s.url, s.destination, s.sha256, options.progress);
      return s.destination;
    } catch (const Error& e) {
      failures += std::string("\n  ") + e.what();
    }
  }
  throw Error("cannot download " + name + "; every source failed:" + failures +
              "\n  Offline? Set CLIP_MIRROR to a folder or URL that holds " + m.file +
              ".pt, or pass the path of a checkpoint file instead of the name.");
}

}  // namespace clip
