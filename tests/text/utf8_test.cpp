#include <gtest/gtest.h>

#include "clip/error.h"
#include "text/utf8.h"

using clip::text::decode_utf8;
using clip::text::utf8_replace_invalid;
using clip::text::utf8_to_u32;

TEST(Utf8, StrictDecodeRejectsWhatPythonRejects) {
  EXPECT_EQ(utf8_to_u32("a\xC3\xA9\xF0\x9F\x98\x80"), U"a\u00e9\U0001F600");
  for (const char* bad :
       {"\x80", "\xC0\x80", "\xC3", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF"})
    EXPECT_THROW(utf8_to_u32(bad), clip::Error) << bad;
  try {
    utf8_to_u32("ok\xFF", "caption");
  } catch (const clip::Error& e) {
    EXPECT_STREQ(e.what(), "caption is not valid UTF-8 (invalid byte sequence at offset 2)");
  }
}

TEST(Utf8, VariantsAcceptCesu8AndJavaNull) {
  EXPECT_FALSE(decode_utf8("\xED\xA0\xBD\xED\xB8\x80"));
  EXPECT_EQ(decode_utf8("\xED\xA0\xBD\xED\xB8\x80", true), U"\U0001F600");
  EXPECT_EQ(decode_utf8("a\xC0\x80", true), std::u32string(U"a\0", 2));
  EXPECT_FALSE(decode_utf8("\xED\xA0\xBD", true));
}

TEST(Utf8, ReplaceUsesMaximalSubparts) {
  // Python: b"\xe0\x80a\xf0\x9f\x98".decode("utf-8", "replace") == "\ufffd\ufffda\ufffd"
  EXPECT_EQ(utf8_replace_invalid("\xE0\x80"
                                 "a\xF0\x9F\x98"),
            "\xEF\xBF\xBD\xEF\xBF\xBD"
            "a\xEF\xBF\xBD");
}
