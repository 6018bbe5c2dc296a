// Every record of ../shared/fixtures/tokenizer against our tokenizer: encode ids,
// tokenize rows (with and without truncation), error messages and decode.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "clip/tokenizer.h"
#include "test_data.h"

namespace {

using nlohmann::json;

std::vector<std::int32_t> row(const clip::Tensor& t) { return t.to_vector<std::int32_t>(); }

void check_file(const std::filesystem::path& path, int* records) {
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const clip::SimpleTokenizer& tok = clip::SimpleTokenizer::official();
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json r = json::parse(line);
    const std::string id = r.at("id");
    const std::string text = r.at("text");
    const int n = r.value("context_length", 77);
    SCOPED_TRACE(id);
    ++*records;

    EXPECT_EQ(tok.encode(text), r.at("encode").get<std::vector<std::int32_t>>()) << id << " encode";

    if (r.at("tokenize").is_null()) {
      try {
        clip::tokenize(text, n, false);
        ADD_FAILURE() << id << ": tokenize should have raised";
      } catch (const clip::Error& e) {
        EXPECT_EQ(std::string(e.what()), r.at("error").get<std::string>()) << id;
      }
    } else {
      EXPECT_EQ(row(clip::tokenize(text, n, false)), r.at("tokenize").get<std::vector<std::int32_t>>())
          << id << " tokenize";
    }
    EXPECT_EQ(row(clip::tokenize(text, n, true)), r.at("tokenize_truncate").get<std::vector<std::int32_t>>())
        << id << " tokenize truncate";

    const auto ids = r.at("encode").get<std::vector<std::int32_t>>();
    EXPECT_EQ(tok.decode(ids), r.at("decode").get<std::string>()) << id << " decode";
  }
}

TEST(TokenizerFixtures, Cases) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/tokenizer/cases.jsonl");
  int records = 0;
  check_file(path, &records);
  EXPECT_EQ(records, 335);
}

TEST(TokenizerFixtures, ContextLength) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/tokenizer/context_length.jsonl");
  int records = 0;
  check_file(path, &records);
  EXPECT_EQ(records, 32);
}

}  // namespace
