// ftfy_keeps, the cleaning's shortcut, must only say "kept" where ftfy_fix_text and
// html.unescape really leave the text as it is: checked on chosen cases, on random strings
// over the characters each fixer acts on, and on real text.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "random_text.h"
#include "test_data.h"
#include "text/ftfy.h"
#include "text/html.h"
#include "text/utf8.h"

namespace {

using clip::text::ftfy_keeps;

// A text ftfy_keeps accepts must come out of every fixer unchanged.
void expect_sound(const std::u32string& text, const std::string& where) {
  if (!ftfy_keeps(text)) return;
  ASSERT_EQ(clip::text::ftfy_fix_text(text), text) << where;
  ASSERT_EQ(clip::text::html_unescape(text), text) << where;
}

TEST(FtfyKeeps, ChosenCases) {
  for (const std::u32string& kept : {U"a photo of a cat", U"café crème", U"中文的字", U"Привет, мир", U"한국어",
                                     U"emoji 🐱👍", U"tab\tand\nlines", U"\u05D0\u05B0\u05B1"})
    EXPECT_TRUE(ftfy_keeps(kept)) << clip::text::u32_to_utf8(kept);
  // Each is changed by one fixer (or by html.unescape).
  for (const std::u32string& changed : {
           U"fish &amp; chips",    // html
           U"cafÃ©",               // fix_encoding
           U"a\u0085b",            // fix_c1_controls / line breaks
           U"\uFB01sh",            // ligature
           U"\uFF21\uFF22",        // full width
           U"\u2018quoted\u2019",  // curly quotes
           U"one\rtwo",            // line break
           U"bell\u0007",          // control character
           U"cafe\u0301",          // NFC composes
           U"\u05D0\u05B1\u05B0",  // NFC reorders: combining classes 11 then 10
       }) {
    EXPECT_FALSE(ftfy_keeps(changed)) << clip::text::u32_to_utf8(changed);
  }
  EXPECT_NE(clip::text::ftfy_fix_text(U"\u05D0\u05B1\u05B0"), U"\u05D0\u05B1\u05B0");
}

TEST(FtfyKeeps, SoundOnRandomStrings) {
  const std::u32string alphabet =
      U"aZ &;#<\r\n\t\u0007\u001b[m0"                             // ASCII, references, controls, escapes
      U"\u00e9\u00c3\u00a9\u00e2\u20ac\u2122\u0080\u0085\u009f"   // Latin-1, mojibake, C1
      U"\u0301\u0316\u0345\u05B0\u05B1\u0591"                     // combining marks
      U"\uFB01\u0132\uFF21\u3000\u2018\u201D\u02BC\u2028"         // ligatures, width, quotes, breaks
      U"\u4e2d\u1100\u1161\uAC00\u0419\u0418\u0306\u206A\uFEFF";  // CJK, jamo, Cyrillic, format chars
  clip::test::RandomText random(alphabet, 10, 11);
  int kept = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::u32string s = random.next();
    expect_sound(s, "string " + std::to_string(i));
    kept += ftfy_keeps(s);
  }
  EXPECT_GT(kept, 1000);  // both answers are reached
  EXPECT_LT(kept, 99000);
}

TEST(FtfyKeeps, SoundOnRealText) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/tokenizer/bench_multilingual.jsonl");
  std::ifstream in(path);
  std::string line;
  int lines = 0, non_ascii = 0, kept = 0;
  while (std::getline(in, line)) {
    const std::u32string text = clip::text::utf8_to_u32(nlohmann::json::parse(line).get<std::string>());
    ++lines;
    expect_sound(text, "line " + std::to_string(lines));
    if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; })) continue;
    ++non_ascii;
    kept += ftfy_keeps(text);
  }
  EXPECT_EQ(lines, 37981);
  std::cout << kept << " of " << non_ascii << " non-ASCII lines kept\n";
  EXPECT_GT(kept, non_ascii / 2);
}

}  // namespace
