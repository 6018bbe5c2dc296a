// `clip serve`: an embedding service over HTTP, on cpp-httplib (Debian libcpp-httplib-dev:
// a maintained, small threaded server and client, the one llama.cpp's server uses; Boost.Beast
// would need an event loop written around it). Connection threads parse, decode and
// preprocess; one Batcher per tower gathers batches (batcher.h), and one thread runs them all
// on the model (engine_thread.h).
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "batcher.h"
#include "client_watch.h"
#include "clip/clip.h"
#include "commands.h"
#include "engine_thread.h"
#include "requests.h"

namespace cli {
namespace {

using json = nlohmann::json;

// Prometheus text format (version 0.0.4). Hand-written: counters, gauges and two
// histograms are a few lines of text, and prometheus-cpp's registry would add a library
// for what this file prints.
class Metrics {
 public:
  void request(const std::string& endpoint, int status, double seconds) {
    std::lock_guard lock(mutex_);
    ++requests_[{endpoint, status}];
    observe(latency_, latency_bounds_, seconds);
  }
  void error(const std::string& kind) {
    std::lock_guard lock(mutex_);
    ++errors_[kind];
  }
  void batch(const std::string& tower, int rows) {
    std::lock_guard lock(mutex_);
    observe(batches_[tower], batch_bounds_, rows);
  }
  std::string text(const std::map<std::string, std::size_t>& queue_depth) const {
    std::lock_guard lock(mutex_);
    std::ostringstream out;
    out << "# HELP clip_requests_total HTTP requests by endpoint and status.\n# TYPE clip_requests_total counter\n";
    for (const auto& [key, n] : requests_)
      out << "clip_requests_total{endpoint=\"" << key.first << "\",status=\"" << key.second << "\"} " << n << '\n';
    out << "# HELP clip_errors_total Failed requests by kind.\n# TYPE clip_errors_total counter\n";
    for (const auto& [kind, n] : errors_) out << "clip_errors_total{kind=\"" << kind << "\"} " << n << '\n';
    out << "# HELP clip_queue_depth Requests waiting for a batch.\n# TYPE clip_queue_depth gauge\n";
    for (const auto& [tower, n] : queue_depth) out << "clip_queue_depth{tower=\"" << tower << "\"} " << n << '\n';
    out << "# HELP clip_batch_size Rows per model call.\n# TYPE clip_batch_size histogram\n";
    for (const auto& [tower, h] : batches_) write(out, "clip_batch_size", "tower=\"" + tower + "\",", h, batch_bounds_);
    out << "# HELP clip_request_seconds Request latency.\n# TYPE clip_request_seconds histogram\n";
    write(out, "clip_request_seconds", "", latency_, latency_bounds_);
    return out.str();
  }

 private:
  struct Histogram {
    std::vector<std::uint64_t> counts;  // per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  static void observe(Histogram& h, const std::vector<double>& bounds, double value) {
    if (h.counts.empty()) h.counts.assign(bounds.size() + 1, 0);
    ++h.counts[std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin()];
    h.sum += value;
    ++h.count;
  }
  static void write(std::ostream& out, const std::string& name, const std::string& labels, const Histogram& h,
                    const std::vector<double>& bounds) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      cumulative += h.counts.empty() ? 0 : h.counts[i];
      std::ostringstream le;
      if (i < bounds.size())
        le << bounds[i];
      else
        le << "+Inf";
      out << name << "_bucket{" << labels << "le=\"" << le.str() << "\"} " << cumulative << '\n';
    }
    std::string braces;  // {tower="image"} from `tower="image",`
    if (!labels.empty()) braces.append("{").append(labels, 0, labels.size() - 1).append("}");
    out << name << "_sum" << braces << ' ' << h.sum << '\n' << name << "_count" << braces << ' ' << h.count << '\n';
  }

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, std::uint64_t> errors_;
  std::map<std::string, Histogram> batches_;
  Histogram latency_;
  const std::vector<double> batch_bounds_{1, 2, 4, 8, 16, 32, 64};
  const std::vector<double> latency_bounds_{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
};

// The reply: JSON, or the features as a .npy body when the client asks for it.
void reply_features(const httplib::Request& req, httplib::Response& res, const std::string& model,
                    const clip::Tensor& features) {
  if (req.get_header_value("Accept").find("application/x-npy") != std::string::npos) {
    std::ostringstream out;
    clip::write_npy(out, features);
    res.set_content(out.str(), "application/x-npy");
    return;
  }
  json rows = json::array();
  const std::int64_t d = features.size(1);
  const float* f = features.data<float>();
  for (std::int64_t i = 0; i < features.size(0); ++i) rows.push_back(std::vector<float>(f + i * d, f + (i + 1) * d));
  res.set_content(json{{"model", model}, {"embeddings", std::move(rows)}}.dump(), "application/json");
}

// Whether the request's client has closed its connection (client_watch.h).
Batcher::Gone client_gone(const httplib::Request& req) {
  auto watch = std::make_shared<ClientWatch>(req.remote_addr, req.remote_port, req.local_addr, req.local_port);
  return [watch] { return watch->gone(); };
}

// The images of a request: the body itself, or every file part of a multipart form (in the
// order sent, for parts of one field name).
std::vector<std::pair<std::string, std::string>> request_images(const httplib::Request& req) {
  std::vector<std::pair<std::string, std::string>> images;  // name, bytes
  if (req.is_multipart_form_data()) {
    for (const auto& [field, part] : req.files)
      if (!part.filename.empty()) images.emplace_back(part.filename, part.content);
  } else if (!req.body.empty()) {
    images.emplace_back("request body", req.body);
  }
  if (images.empty()) throw HttpError(400, "no image: send the file as the body, or as multipart file parts");
  if (images.size() > kMaxImagesPerRequest)
    throw HttpError(
        400, std::to_string(images.size()) + " images in one request; at most " + std::to_string(kMaxImagesPerRequest));
  return images;
}

// SIGINT and SIGTERM, caught by a handler that only writes the signal's number into a pipe
// (async-signal-safe), read by a thread of their own that calls `stop` (httplib's stop()
// is not async-signal-safe). A handler, not sigwait with the signals blocked: threads that
// libraries start before main (OpenBLAS's, linked for FAISS) do not block them, and the
// kernel delivered SIGTERM to one of those, which ended the process at once.
class SignalStop {
 public:
  SignalStop() {
    if (pipe2(pipe_, O_CLOEXEC) != 0) throw clip::Error(std::string("pipe: ") + std::strerror(errno));
    struct sigaction action {};
    action.sa_handler = [](int signal) {
      const unsigned char byte = static_cast<unsigned char>(signal);
      [[maybe_unused]] const ssize_t n = write(write_end_, &byte, 1);
    };
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    write_end_ = pipe_[1];
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  void start(std::function<void(const char*)> stop) {
    thread_ = std::thread([this, stop] {
      unsigned char signal = 0;
      while (read(pipe_[0], &signal, 1) < 0 && errno == EINTR) {
      }
      if (signal != 0) stop(signal == SIGINT ? "SIGINT" : "SIGTERM");  // 0: the destructor's wake-up
    });
  }
  ~SignalStop() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    if (thread_.joinable()) {
      const unsigned char wake = 0;
      [[maybe_unused]] const ssize_t n = write(pipe_[1], &wake, 1);
      thread_.join();
    }
    close(pipe_[0]);
    close(pipe_[1]);
  }
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

 private:
  static inline int write_end_ = -1;  // for the handler
  int pipe_[2] = {-1, -1};
  struct sigaction old_int_ {
  }, old_term_{};
  std::thread thread_;
};

// GET / with --index: type a query or drop an image, see the best matches.
constexpr const char* kSearchPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clip search</title>
<style>
body{font:16px system-ui,sans-serif;margin:2em;background:#fafafa}
#q{width:60%;font-size:1.2em;padding:.4em}#drop{border:2px dashed #999;padding:1em;margin:1em 0;color:#666}
#drop.over{border-color:#06c}#results{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;width:180px}figure img{width:180px;height:180px;object-fit:cover;border-radius:4px}
figcaption{font-size:.8em;color:#444;overflow-wrap:anywhere}.error{color:#b00}
</style></head><body>
<h1>clip search</h1>
<form id="form"><input id="q" name="q" placeholder="a photo of a dog on a beach" autofocus> <button>Search</button></form>
<div id="drop">or drop an image here</div>
<div id="status"></div><div id="results"></div>
<script>
const results = document.getElementById("results"), status = document.getElementById("status");
async function search(body, type) {
  status.textContent = "searching..."; status.className = "";
  const r = await fetch("/v1/search?top=12", {method: "POST", headers: {"Content-Type": type}, body});
  const j = await r.json();
  if (!r.ok) { status.textContent = j.error; status.className = "error"; results.replaceChildren(); return; }
  status.textContent = j.results.length + " best matches for " + j.query;
  results.replaceChildren(...j.results.map(m => {
    const f = document.createElement("figure"), img = document.createElement("img"), c = document.createElement("figcaption");
    img.src = m.url; img.alt = m.file; c.textContent = m.score.toFixed(4) + " " + m.file.split("/").pop();
    f.append(img, c); return f;
  }));
}
document.getElementById("form").onsubmit = e => {
  e.preventDefault(); search(JSON.stringify({text: document.getElementById("q").value}), "application/json");
};
const drop = document.getElementById("drop");
drop.ondragover = e => { e.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = e => {
  e.preventDefault(); drop.classList.remove("over");
  const file = e.dataTransfer.files[0]; if (file) search(file, file.type || "application/octet-stream");
};
</script></body></html>
)";

std::string content_type_of(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".jpg" || ext == ".jpeg" || ext == ".jfif") return "image/jpeg";
  if (ext == ".png") return "image/png";
  if (ext == ".gif") return "image/gif";
  if (ext == ".webp") return "image/webp";
  if (ext == ".bmp") return "image/bmp";
  if (ext == ".tif" || ext == ".tiff") return "image/tiff";
  if (ext == ".pbm" || ext == ".pgm" || ext == ".ppm" || ext == ".pnm") return "image/x-portable-anymap";
  if (ext == ".tga") return "image/x-tga";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".heic" || ext == ".heif" || ext == ".hif") return "image/heif";
  if (ext == ".avif") return "image/avif";
  if (ext == ".psd") return "image/vnd.adobe.photoshop";
  if (ext == ".dds") return "image/vnd-ms.dds";
  if (ext == ".jp2" || ext == ".jpf" || ext == ".jpx") return "image/jp2";
  if (ext == ".j2k" || ext == ".j2c" || ext == ".jpc") return "image/jpeg2000";
  return "application/octet-stream";
}

}  // namespace

int run_serve(const ServeOptions& opt) {
  SignalStop signals;
  clip::Preprocess preprocess;
  const clip::Model model = load_model(opt.model, &preprocess);
  const std::string name = opt.model.name;
  std::unique_ptr<Searcher> searcher;
  if (!opt.index.empty()) {
    searcher = std::make_unique<Searcher>(opt.index);
    clip::check_embeddings(searcher->embeddings(), opt.index, model, name);
  }
  const clip::Embeddings no_index;
  const clip::Embeddings& index = searcher ? searcher->embeddings() : no_index;
  Metrics metrics;
  Batcher::Options batching;
  batching.max_batch = opt.max_batch;
  batching.max_wait = std::chrono::milliseconds(opt.max_wait_ms);
  batching.max_queue = static_cast<std::size_t>(opt.max_queue);
  EngineThread engine;  // every model call runs there (engine_thread.h)
  Batcher images(
      batching, [&](const clip::Tensor& x) { return engine.call([&] { return model.encode_image(x); }); },
      [&](int rows) { metrics.batch("image", rows); });
  Batcher texts(
      batching, [&](const clip::Tensor& x) { return engine.call([&] { return model.encode_text(x); }); },
      [&](int rows) { metrics.batch("text", rows); });
  const auto timeout = std::chrono::milliseconds(opt.timeout_ms);
  std::atomic<bool> stopping{false};

  httplib::Server server;
  const int http_threads = opt.http_threads > 0 ? opt.http_threads : std::max(8, 2 * opt.max_batch);
  server.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<std::size_t>(http_threads)); };
  // Replies go out as headers then body: without TCP_NODELAY the second write waits for the
  // client's delayed ACK, ~40 ms on Linux (bench/serve_load, one connection: p50 80 ms for
  // an image against 29 ms for the engine alone).
  server.set_tcp_nodelay(true);
  // httplib listens with a backlog of 5 (its compiled default): a burst of clients arriving
  // while the accept thread waits for a core overflowed it, and their SYNs were dropped and
  // resent a second later, or their connections reset (tests/cli/test_serve.py, 8-16 clients
  // at once). The socket is kept here and listened on again with the kernel's maximum after
  // binding (Linux takes a second listen() as a new backlog). SO_REUSEADDR without httplib's
  // SO_REUSEPORT: a second server on a port in use is an error, not a silent sharer.
  int listening = -1;
  server.set_socket_options([&listening](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening = sock;
  });
  server.set_payload_max_length(static_cast<std::size_t>(opt.max_body_mb) << 20);
  server.set_read_timeout(std::chrono::milliseconds(opt.io_timeout_ms));  // slow clients
  server.set_write_timeout(std::chrono::milliseconds(opt.io_timeout_ms));
  // httplib answers some errors itself (413 for a body over the limit, 404): give them the
  // same JSON shape as ours.
  server.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    // httplib caps application/x-www-form-urlencoded bodies (curl -d, --data-binary) at 8 KB.
    const bool form = req.get_header_value("Content-Type") == "application/x-www-form-urlencoded";
    const std::string message = res.status == 413 && form
                                    ? "send the body with its own Content-Type (application/json, image/jpeg, "
                                      "application/octet-stream ...): form-encoded bodies are limited to 8 KB"
                                : res.status == 413 ? "the body is larger than --max-body-mb"
                                : res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                                    : "HTTP status " + std::to_string(res.status);
    res.set_content(json{{"error", message}}.dump(), "application/json");
    if (res.status == 413) metrics.error("too_large");
  });

  // Every endpoint: errors become their status and {"error": "..."}; counted and timed.
  auto handle = [&](const std::string& endpoint,
                    std::function<void(const httplib::Request&, httplib::Response&)> body) {
    return [&, endpoint, body](const httplib::Request& req, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      auto fail = [&](int status, const std::string& kind, const std::string& message) {
        res.status = status;
        res.set_content(json{{"error", message}}.dump(), "application/json");
        metrics.error(kind);
      };
      try {
        body(req, res);
      } catch (const HttpError& e) {
        fail(e.status, "bad_request", e.what());
      } catch (const Batcher::QueueFull& e) {
        res.set_header("Retry-After", "1");
        fail(503, "queue_full", e.what());
      } catch (const Batcher::Stopped& e) {
        res.set_header("Retry-After", "1");
        fail(503, "shutting_down", e.what());
      } catch (const Batcher::DeadlineExceeded& e) {
        fail(504, "deadline", e.what());
      } catch (const Batcher::ClientGone& e) {  // nobody reads this answer: nginx's status for it
        fail(499, "client_gone", e.what());
      } catch (const clip::Error& e) {  // undecodable image, text too long, ...
        fail(400, "bad_input", e.what());
      } catch (const std::exception& e) {
        fail(500, "internal", e.what());
      }
      metrics.request(endpoint, res.status == -1 ? 200 : res.status,  // httplib sets 200 after us
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
  };

  server.Get("/health", handle("/health", [](const httplib::Request&, httplib::Response& res) {
               res.set_content(R"({"status":"ok"})", "application/json");
             }));
  server.Get("/ready", handle("/ready", [&](const httplib::Request&, httplib::Response& res) {
               const char* status = stopping ? "shutting down" : images.full() || texts.full() ? "queue full" : "ready";
               if (std::string(status) != "ready") res.status = 503;
               res.set_content(json{{"status", status}}.dump(), "application/json");
             }));
  server.Get("/v1/models", handle("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
               const clip::ModelConfig& c = model.config();
               json m{{"id", name},
                      {"embed_dim", c.embed_dim},
                      {"input_resolution", c.image_resolution},
                      {"context_length", c.context_length},
                      {"precision", opt.model.precision}};
               res.set_content(json{{"data", json::array({m})}}.dump(), "application/json");
             }));
  server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.text({{"image", images.depth()}, {"text", texts.depth()}}), "text/plain; version=0.0.4");
  });
  server.Post("/v1/embed/text", handle("/v1/embed/text", [&](const httplib::Request& req, httplib::Response& res) {
                auto ticket = texts.expect();
                const TextRequest r = parse_text_request(req.body);
                clip::Tensor features =
                    texts.submit(clip::tokenize(r.texts, model.context_length(), r.truncate),
                                 std::chrono::steady_clock::now() + timeout, &ticket, client_gone(req));
                const bool normalize = r.normalize;
                reply_features(req, res, name, normalize ? clip::normalize(features) : features);
              }));
  server.Post("/v1/embed/image", handle("/v1/embed/image", [&](const httplib::Request& req, httplib::Response& res) {
                auto ticket = images.expect();
                std::vector<clip::Tensor> pixels;
                for (const auto& [file, bytes] : request_images(req))
                  pixels.push_back(preprocess({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, file,
                                              opt.input.image_options()));
                clip::Tensor features = images.submit(clip::stack(pixels), std::chrono::steady_clock::now() + timeout,
                                                      &ticket, client_gone(req));
                const bool normalize = req.get_param_value("normalize") != "false";
                reply_features(req, res, name, normalize ? clip::normalize(features) : features);
              }));
  server.Post("/v1/classify", handle("/v1/classify", [&](const httplib::Request& req, httplib::Response& res) {
                // labels and templates: query parameters, or form fields, one value each.
                auto values = [&](const std::string& key) {
                  std::vector<std::string> out;
                  for (std::size_t i = 0; i < req.get_param_value_count(key); ++i)
                    out.push_back(req.get_param_value(key, i));
                  auto [begin, end] = req.files.equal_range(key);
                  for (auto it = begin; it != end; ++it)
                    if (it->second.filename.empty()) out.push_back(it->second.content);
                  return out;
                };
                const std::vector<std::string> labels = values("labels"), templates = values("templates");
                if (labels.empty()) throw HttpError(400, "no labels: give labels=... (query or form field), repeated");
                const auto deadline = std::chrono::steady_clock::now() + timeout;
                const Batcher::Gone gone = client_gone(req);
                json results = json::array();
                const auto files = request_images(req);
                auto ticket = images.expect();
                std::vector<clip::Tensor> pixels;
                for (const auto& [file, bytes] : files)
                  pixels.push_back(preprocess({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, file,
                                              opt.input.image_options()));
                const clip::Tensor text =
                    label_features(model, labels, templates, opt.input.truncate,
                                   [&](const clip::Tensor& t) { return texts.submit(t, deadline, nullptr, gone); });
                const clip::Tensor features = images.submit(clip::stack(pixels), deadline, &ticket, gone);
                const clip::Tensor probs = clip::softmax(clip::logits(features, text, model.logit_scale()).first, -1);
                const std::int64_t m = static_cast<std::int64_t>(labels.size());
                for (std::size_t f = 0; f < files.size(); ++f) {
                  const float* p = probs.data<float>() + f * m;
                  results.push_back(
                      json{{"image", files[f].first}, {"labels", labels}, {"probs", std::vector<float>(p, p + m)}});
                }
                res.set_content(results.size() == 1 ? results[0].dump() : results.dump(), "application/json");
              }));

  if (!opt.index.empty()) {
    server.Get("/",
               [&](const httplib::Request&, httplib::Response& res) { res.set_content(kSearchPage, "text/html"); });
    // The index's files by their number: nothing else of the filesystem can be named.
    server.Get(R"(/v1/files/(\d{1,9}))", handle("/v1/files", [&](const httplib::Request& req, httplib::Response& res) {
                 const std::size_t i = std::stoul(req.matches[1].str());
                 std::error_code ec;
                 if (i >= index.items.size() ||
                     !std::filesystem::is_regular_file(std::filesystem::symlink_status(index.items[i], ec)))
                   throw HttpError(404, "no such file in the index");
                 const std::string& path = index.items[i];
                 std::ifstream in(path, std::ios::binary);
                 std::ostringstream data;
                 data << in.rdbuf();
                 if (!in) throw HttpError(404, "cannot read " + path);
                 res.set_content(data.str(), content_type_of(path));
               }));
    server.Post(
        "/v1/search", handle("/v1/search", [&](const httplib::Request& req, httplib::Response& res) {
          int top = 5;
          if (req.has_param("top")) {  // 1 to 10000, else refused below
            const std::string value = req.get_param_value("top");
            const bool digits = !value.empty() && value.size() <= 5 &&
                                std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
            top = digits ? std::min(std::stoi(value), 10001) : 0;
          }
          std::string query;
          clip::Tensor features;
          if (req.get_header_value("Content-Type").rfind("application/json", 0) == 0) {
            const SearchRequest r = parse_search_request(req.body, top);
            query = r.text;
            top = r.top;
            features = label_features(model, {query}, r.templates, opt.input.truncate, [&](const clip::Tensor& t) {
              return texts.submit(t, std::chrono::steady_clock::now() + timeout, nullptr, client_gone(req));
            });
          } else {
            const auto files = request_images(req);
            if (files.size() != 1) throw HttpError(400, "one image per search");
            query = files[0].first;
            const clip::Tensor pixels =
                preprocess({reinterpret_cast<const std::uint8_t*>(files[0].second.data()), files[0].second.size()},
                           files[0].first, opt.input.image_options());
            features = clip::normalize(images.submit(clip::stack({pixels}), std::chrono::steady_clock::now() + timeout,
                                                     nullptr, client_gone(req)));
          }
          if (top < 1 || top > 10000) throw HttpError(400, "top must be an integer from 1 to 10000");
          json results = json::array();
          const auto hits = searcher->search(features.to_vector<float>(), static_cast<std::size_t>(top));
          for (const Hit& hit : hits[0])
            results.push_back(json{
                {"file", index.items[hit.row]}, {"score", hit.score}, {"url", "/v1/files/" + std::to_string(hit.row)}});
          res.set_content(json{{"query", query}, {"results", std::move(results)}}.dump(), "application/json");
        }));
  }

  int port = opt.port;
  if (port == 0)
    port = server.bind_to_any_port(opt.host);
  else if (!server.bind_to_port(opt.host, port))
    port = -1;
  if (port <= 0)
    throw clip::Error("cannot listen on " + opt.host + ":" + std::to_string(opt.port) +
                      " (in use, or not an address of this machine)");
  ::listen(listening, SOMAXCONN);
  std::cerr << "clip serve: " << name << " on http://" << opt.host << ":" << port << " (max batch " << opt.max_batch
            << ", max wait " << opt.max_wait_ms << " ms, queue " << opt.max_queue << ")" << std::endl;
  signals.start([&](const char* signal) {
    std::cerr << "clip serve: " << signal << ": finishing queued requests, then exiting" << std::endl;
    stopping = true;
    server.stop();
  });
  server.listen_after_bind();  // returns after stop(), once the connection threads finished
  stopping = true;
  images.stop();
  texts.stop();
  std::cerr << "clip serve: stopped\n";
  return 0;
}

}  // namespace cli
