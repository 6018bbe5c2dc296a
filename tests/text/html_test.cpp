#include <gtest/gtest.h>

#include "text/html.h"

using clip::text::ftfy_unescape_html;
using clip::text::html_unescape;

TEST(Html, PythonUnescapeRules) {
  EXPECT_EQ(html_unescape(U"&amp;amp; &lt;b&gt; &copy &notit; &#0; &#x41;&#65 &#xD800; &bogus;"),
            U"&amp; <b> \u00a9 \u00acit; \ufffd AA \ufffd &bogus;");
  EXPECT_EQ(html_unescape(U"&#128; &#1; &#99999999999999999999;"), U"\u20ac  \ufffd");
}

TEST(Html, FtfyOnlyDecodesTerminatedReferences) {
  EXPECT_EQ(ftfy_unescape_html(U"&amp; &amp &EACUTE; &nTILDE; &#x2019; &#xyz;"),
            U"& &amp \u00c9 &nTILDE; \u2019 &#xyz;");
}
