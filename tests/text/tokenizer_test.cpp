#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "clip/tokenizer.h"
#include "test_data.h"

TEST(Tokenizer, DemoPrompts) {
  const clip::Tensor t = clip::tokenize(std::vector<std::string>{"a diagram", "a dog", "a cat"});
  ASSERT_EQ(t.shape(), (clip::Tensor::Shape{3, 77}));
  EXPECT_EQ(t.at<std::int32_t>({0, 0}), 49406);
  EXPECT_EQ(t.at<std::int32_t>({1, 1}), 320);  // "a</w>"
  EXPECT_EQ(t.at<std::int32_t>({1, 3}), 49407);
  EXPECT_EQ(t.at<std::int32_t>({1, 4}), 0);
}

TEST(Tokenizer, InvalidUtf8IsAClearError) {
  try {
    clip::tokenize("caf\xC3");
    FAIL() << "expected clip::Error";
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos);
  }
}

TEST(Tokenizer, ContextLengthEdgeCases) {
  EXPECT_EQ(clip::tokenize("a dog", 2, true).to_vector<std::int32_t>(), (std::vector<std::int32_t>{49406, 49407}));
  EXPECT_EQ(clip::tokenize("a dog", 1, true).to_vector<std::int32_t>(), (std::vector<std::int32_t>{49407}));
  EXPECT_THROW(clip::tokenize("a dog", 0, true), clip::Error);
  EXPECT_THROW(clip::tokenize("a dog", -1, false), clip::Error);
  EXPECT_EQ(clip::tokenize(std::vector<std::string>{}).shape(), (clip::Tensor::Shape{0, 77}));
}

TEST(Tokenizer, DecodeRejectsUnknownIds) {
  const auto& tok = clip::SimpleTokenizer::official();
  EXPECT_EQ(tok.vocab_size(), 49408u);
  const std::vector<std::int32_t> bad{49408};
  EXPECT_THROW(tok.decode(bad), clip::Error);
  const std::vector<std::int32_t> negative{-1};
  EXPECT_THROW(tok.decode(negative), clip::Error);
}

TEST(Tokenizer, ConcurrentEncodeMatchesSequential) {
  const auto& tok = clip::SimpleTokenizer::official();
  const std::vector<std::string> texts{"a photo of a dog", "Ünïcödé façade", "2024-01-01 &amp; more",
                                       "日本語のテキスト"};
  std::vector<std::vector<std::int32_t>> expected;
  for (const auto& t : texts) expected.push_back(tok.encode(t));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep)
        for (std::size_t i = 0; i < texts.size(); ++i)
          if (tok.encode(texts[i]) != expected[i]) ++mismatches;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Tokenizer, UserMergesFileGivesTheSameIds) {
  CLIP_REQUIRE_SHARED_FILE(path, "assets/bpe_simple_vocab_16e6.txt.gz");
  const clip::SimpleTokenizer from_file(path);
  const auto& builtin = clip::SimpleTokenizer::official();
  for (const char* text : {"a photo of a cat", "Hello, world! 👋", "naïve café"})
    EXPECT_EQ(from_file.encode(text), builtin.encode(text)) << text;
}

TEST(Tokenizer, BadMergesFilesAreClearErrors) {
  EXPECT_THROW(clip::SimpleTokenizer(std::filesystem::path("/nonexistent/merges.txt")), clip::Error);
  const auto path = std::filesystem::temp_directory_path() / "clip_bad_merges.txt";
  std::ofstream(path) << "#version: 0.2\ni n\nthis line has three\n";
  EXPECT_THROW(clip::SimpleTokenizer{path}, clip::Error);
  std::ofstream(path) << "#version: 0.2\nzz qq\n";
  EXPECT_THROW(clip::SimpleTokenizer{path}, clip::Error);
  std::filesystem::remove(path);
}

// Issue #14: with exactly two string literals the braces also matched std::string's
// iterator-pair constructor, and this call did not compile (ambiguous overloads). This
// file compiling is half of the test.
TEST(Tokenize, BracedListsOfAnySizeCompileAndMeanTexts) {
  const clip::Tensor two = clip::tokenize({"a red star", "a blue circle"});
  EXPECT_EQ(two.shape(), (clip::Tensor::Shape{2, 77}));
  EXPECT_EQ(two.to_vector<std::int32_t>(),
            clip::tokenize(std::vector<std::string>{"a red star", "a blue circle"}).to_vector<std::int32_t>());
  EXPECT_EQ(clip::tokenize({"one"}).shape(), (clip::Tensor::Shape{1, 77}));
  EXPECT_EQ(clip::tokenize({"a", "b", "c"}, 10, true).shape(), (clip::Tensor::Shape{3, 10}));
}

// The method the free functions delegate to, called directly: the same rows, row by row
// what encode() gives, with the reference's truncation.
TEST(Tokenize, MethodOnATokenizerMatchesEncode) {
  const clip::SimpleTokenizer& tok = clip::SimpleTokenizer::official();
  const std::vector<std::string> texts = {"a dog", "Hello,world!", "a photo of a cat on a mat"};
  const clip::Tensor rows = tok.tokenize(texts);
  EXPECT_EQ(rows.to_vector<std::int32_t>(), clip::tokenize(tok, texts).to_vector<std::int32_t>());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::int32_t> expected{tok.start_of_text()};
    for (std::int32_t id : tok.encode(texts[i])) expected.push_back(id);
    expected.push_back(tok.end_of_text());
    expected.resize(77, 0);
    for (int k = 0; k < 77; ++k)
      EXPECT_EQ(rows.at<std::int32_t>({static_cast<std::int64_t>(i), k}), expected[static_cast<std::size_t>(k)]);
  }
  const clip::Tensor cut = tok.tokenize(texts, 4, true);  // <|startoftext|>, two ids, <|endoftext|>
  EXPECT_EQ(cut.at<std::int32_t>({2, 3}), tok.end_of_text());
  EXPECT_EQ(cut.at<std::int32_t>({2, 1}), tok.encode(texts[2])[0]);
  EXPECT_THROW(tok.tokenize(texts, 4, false), clip::Error);
}

// The BPE word cache keeps two generations of 131,072 pieces (text/bpe.cpp): more distinct
// words than both hold turn it over several times, and every word still gets the ids a new
// tokenizer gives it.
TEST(Tokenizer, WordCacheTurnsOverWithoutChangingIds) {
  const clip::SimpleTokenizer warm;
  const auto word = [](int i) {
    std::string w = "q";
    for (; i; i /= 23) w += static_cast<char>('a' + i % 23);
    return w;
  };
  std::vector<std::vector<std::int32_t>> first;
  for (int i = 0; i < 300000; i += 1000) first.push_back(warm.encode(word(i)));
  for (int i = 0; i < 300000; ++i) warm.encode(word(i));  // ~2.3 generations of new pieces
  const clip::SimpleTokenizer fresh;
  for (int i = 0, k = 0; i < 300000; i += 1000, ++k) {
    ASSERT_EQ(warm.encode(word(i)), first[k]) << word(i);
    ASSERT_EQ(fresh.encode(word(i)), first[k]) << word(i);
  }
}
