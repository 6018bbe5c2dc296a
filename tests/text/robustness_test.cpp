// Untrusted text never crashes the tokenizer: it either encodes or raises clip::Error.
// The fast ASCII path gives exactly what the general path gives.
#include <gtest/gtest.h>

#include <random>

#include "clip/tokenizer.h"
#include "text/clean.h"
#include "text/pretokenize.h"
#include "text/utf8.h"

namespace {

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// Valid UTF-8 made of code points drawn from ranges the cleaning steps care about.
std::string random_unicode(std::mt19937& rng, std::size_t n) {
  static const std::pair<char32_t, char32_t> ranges[] = {
      {0x00, 0x7F},     {0x80, 0xFF},     {0x100, 0x24F},   {0x300, 0x36F},   {0x370, 0x4FF},    {0x2000, 0x206F},
      {0x2500, 0x259F}, {0x3000, 0x30FF}, {0xFB00, 0xFB06}, {0xFF00, 0xFFEF}, {0x1F300, 0x1F6FF}};
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& [lo, hi] = ranges[rng() % std::size(ranges)];
    const char32_t c = lo + rng() % (hi - lo + 1);
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    clip::text::append_utf8(s, c);
  }
  return s;
}

TEST(TokenizerRobustness, RandomBytesEncodeOrRaise) {
  std::mt19937 rng(1234);
  const auto& tok = clip::SimpleTokenizer::official();
  int errors = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string text = random_bytes(rng, rng() % 64);
    try {
      for (std::int32_t id : tok.encode(text)) ASSERT_LT(static_cast<std::size_t>(id), tok.vocab_size());
    } catch (const clip::Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 1000);  // most random byte strings are not UTF-8
}

TEST(TokenizerRobustness, RandomUnicodeEncodesAndDecodes) {
  std::mt19937 rng(99);
  const auto& tok = clip::SimpleTokenizer::official();
  for (int i = 0; i < 2000; ++i) {
    const std::string text = random_unicode(rng, rng() % 48);
    const std::vector<std::int32_t> ids = tok.encode(text);
    EXPECT_NO_THROW(tok.decode(ids)) << text;
  }
}

TEST(TokenizerRobustness, LongTextIsHandled) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "Ã©tÃ© &amp; cafÃ© ﬁ ＡＢＣ\n";
  const auto ids = clip::SimpleTokenizer::official().encode(text);
  EXPECT_GT(ids.size(), 100000u);
}

TEST(TokenizerFastPath, MatchesTheGeneralPath) {
  std::mt19937 rng(7);
  const std::string alphabet = "abcXYZ019 \t\n\f'.,!?<|>-_sStTdDmMlLrReEvV";
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    const std::size_t n = rng() % 40;
    for (std::size_t k = 0; k < n; ++k) text += alphabet[rng() % alphabet.size()];
    if (i % 7 == 0) text += "<|endoftext|>";
    ASSERT_TRUE(clip::text::is_plain_ascii(text));
    std::string fast;
    clip::text::lower_plain_ascii(text, fast);
    const std::u32string general = clip::text::clean_text(clip::text::utf8_to_u32(text));
    std::vector<std::string_view> fast_pieces;
    clip::text::pretokenize_ascii(fast, fast_pieces);
    std::vector<std::u32string_view> general_pieces;
    clip::text::pretokenize(general, general_pieces);
    ASSERT_EQ(fast_pieces.size(), general_pieces.size()) << text;
    for (std::size_t k = 0; k < fast_pieces.size(); ++k)
      ASSERT_EQ(clip::text::utf8_to_u32(fast_pieces[k]), general_pieces[k]) << text;
  }
}

}  // namespace
