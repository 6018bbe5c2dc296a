// The JSON bodies `clip serve` reads, parsed and checked apart from the server (so that the
// fuzz target `serve_request` drives exactly this code): every malformed body is an
// HttpError 400 naming what is wrong, never an exception of another kind.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli {

// An error the client caused: its HTTP status and one line.
struct HttpError : std::runtime_error {
  int status;
  HttpError(int s, const std::string& message) : std::runtime_error(message), status(s) {}
};

// Rows one request may hold: a 32 MB body of tiny images or short texts would otherwise
// become gigabytes of pixels or token rows (600 KB per 224 px image).
inline constexpr std::size_t kMaxImagesPerRequest = 64, kMaxTextsPerRequest = 1024;

// POST /v1/embed/text: {"texts": [...], "normalize": true, "truncate": false}.
struct TextRequest {
  std::vector<std::string> texts;
  bool normalize = true, truncate = false;
};
// POST /v1/search with a JSON body: {"text": "...", "top": 5, "templates": [...]}.
struct SearchRequest {
  std::string text;
  int top = 5;
  std::vector<std::string> templates;
};

namespace requests {

inline nlohmann::json object(const std::string& body, const char* shape) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw HttpError(400, std::string("the body is not JSON: ") + e.what());
  }
  if (!j.is_object()) throw HttpError(400, std::string("the body must be a JSON object ") + shape);
  return j;
}

inline std::vector<std::string> strings(const nlohmann::json& j, const char* key, bool required) {
  if (!j.contains(key)) {
    if (required) throw HttpError(400, std::string("\"") + key + "\" is missing");
    return {};
  }
  const nlohmann::json& v = j.at(key);
  if (!v.is_array() || std::any_of(v.begin(), v.end(), [](const nlohmann::json& e) { return !e.is_string(); }))
    throw HttpError(400, std::string("\"") + key + "\" must be an array of strings");
  return v.get<std::vector<std::string>>();
}

inline bool flag(const nlohmann::json& j, const char* key, bool fallback) {
  if (!j.contains(key)) return fallback;
  if (!j.at(key).is_boolean()) throw HttpError(400, std::string("\"") + key + "\" must be true or false");
  return j.at(key).get<bool>();
}

}  // namespace requests

inline TextRequest parse_text_request(const std::string& body) {
  const nlohmann::json j = requests::object(body, "{\"texts\": [...]}");
  TextRequest r;
  r.texts = requests::strings(j, "texts", true);
  if (r.texts.empty()) throw HttpError(400, "\"texts\" is empty");
  if (r.texts.size() > kMaxTextsPerRequest)
    throw HttpError(
        400, std::to_string(r.texts.size()) + " texts in one request; at most " + std::to_string(kMaxTextsPerRequest));
  r.normalize = requests::flag(j, "normalize", true);
  r.truncate = requests::flag(j, "truncate", false);
  return r;
}

inline SearchRequest parse_search_request(const std::string& body, int top) {
  const nlohmann::json j = requests::object(body, "{\"text\": \"...\"} (or send an image)");
  SearchRequest r;
  if (!j.contains("text") || !j.at("text").is_string()) throw HttpError(400, "\"text\" must be a string");
  r.text = j.at("text").get<std::string>();
  r.top = top;
  if (j.contains("top")) {
    if (!j.at("top").is_number_integer() || j.at("top").get<long long>() < 1 || j.at("top").get<long long>() > 10000)
      throw HttpError(400, "\"top\" must be an integer from 1 to 10000");
    r.top = j.at("top").get<int>();
  }
  r.templates = requests::strings(j, "templates", false);
  return r;
}

}  // namespace cli
