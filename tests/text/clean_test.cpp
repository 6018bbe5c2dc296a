// lower() maps text character by character unless it holds U+0130 or U+03A3: checked
// against ICU's full, contextual lowercasing (Python's str.lower()) on every code point and
// on random strings.
#include <gtest/gtest.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include "random_text.h"
#include "text/clean.h"
#include "text/utf8.h"

namespace {

std::u32string icu_lower(const std::u32string& s) {
  icu::UnicodeString u =
      icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
  u.toLower(icu::Locale::getRoot());
  std::u32string out(static_cast<std::size_t>(u.countChar32()), U'\0');
  UErrorCode status = U_ZERO_ERROR;
  u.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), status);
  return out;
}

TEST(Lower, EveryCodePointAsICU) {
  int changed = 0;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const std::u32string s(1, c);
    const std::u32string lowered = clip::text::lower(s);
    ASSERT_EQ(lowered, icu_lower(s)) << "U+" << std::hex << static_cast<std::uint32_t>(c);
    changed += lowered != s;
  }
  EXPECT_GT(changed, 1400);  // Unicode 15 has ~1,400 characters with a lowercase mapping
}

TEST(Lower, ContextAsICU) {
  EXPECT_EQ(clip::text::lower(U"ΟΔΟΣ ΣΑΣ"), U"οδος σας");  // final sigma
  EXPECT_EQ(clip::text::lower(U"İstanbul"), U"i\u0307stanbul");
  const std::u32string alphabet = U"aAIJİıΣσςΟΔ \u0307\u0301\u0345ÉéẞßǅΩΆ中ꙊⰀ𐐀";
  clip::test::RandomText random(alphabet, 8, 3);
  for (int i = 0; i < 50000; ++i) {
    const std::u32string s = random.next();
    ASSERT_EQ(clip::text::lower(s), icu_lower(s)) << clip::text::u32_to_utf8(s);
  }
}

}  // namespace
