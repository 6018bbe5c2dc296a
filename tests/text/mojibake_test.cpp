// is_bad's pre-filter must never hide a match of ftfy's badness regex: checked against the
// regex alone on random strings over the regex's own characters and on real text.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "random_text.h"
#include "test_data.h"
#include "text/mojibake.h"
#include "text/utf8.h"

using clip::text::badness_alphabet;
using clip::text::is_bad;
using clip::text::is_bad_by_regex;

TEST(Mojibake, FilterAgreesWithTheRegexOnRandomStrings) {
  std::u32string alphabet = badness_alphabet();
  ASSERT_GT(alphabet.size(), 300u);
  alphabet += U"aZz .,?!\n\t_1\u00e9\u4e2d";  // ASCII the regex's other positions use, and plain text
  clip::test::RandomText random(alphabet, 8, 7);
  int bad = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::u32string s = random.next();
    const bool by_regex = is_bad_by_regex(s);
    ASSERT_EQ(is_bad(s), by_regex) << "string " << i;
    bad += by_regex;
  }
  EXPECT_GT(bad, 1000);  // the random strings do reach the regex's alternatives
}

TEST(Mojibake, EachAlternativeOfTheRegexIsFound) {
  // One example per alternative of ftfy.badness.BADNESS_RE, in its order (the longer ones
  // are out of the random strings' reach).
  const std::u32string examples[] = {
      U"\u0085", U"é¦", U"aα¦", U"¦é",      U"éÉ",      U"™é",  U"é€", U" É€",  U"É²",   U"é“²", U"é”“", U"€“", U"aÉ“",
      U"│Ò",     U"é│", U"│”",  U"é“a",     U"œ1",      U"É°",  U"Â€", U"×²",   U"Ø€Ù€", U"à²",  U"√±",  U"≈°", U"‚Äì",
      U"‚âà",    U"вЂ", U"В€Г", U"ГўВЂВxa", U"Ã\u00a0", U"aÃ ", U"Ã ", U"x.Â ", U"β€™",  U"Β€Γ", U"ā€"};
  static_assert(std::size(examples) == 37);
  for (const std::u32string& s : examples) {
    EXPECT_TRUE(is_bad_by_regex(s)) << clip::text::u32_to_utf8(s);
    EXPECT_TRUE(is_bad(s)) << clip::text::u32_to_utf8(s);
  }
}

TEST(Mojibake, FilterAgreesWithTheRegexOnRealText) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/tokenizer/bench_multilingual.jsonl");
  std::ifstream in(path);
  std::string line;
  int lines = 0, bad = 0;
  while (std::getline(in, line)) {
    const std::u32string text = clip::text::utf8_to_u32(nlohmann::json::parse(line).get<std::string>());
    const bool by_regex = is_bad_by_regex(text);
    ASSERT_EQ(is_bad(text), by_regex) << "line " << lines + 1;
    ++lines;
    bad += by_regex;
  }
  EXPECT_EQ(lines, 37981);
  EXPECT_GT(bad, 0);
}
