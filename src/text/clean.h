// The reference's text normalisation before pre-tokenisation:
// whitespace_clean(basic_clean(text)).lower()
#pragma once

#include <string>
#include <string_view>

namespace clip::text {

// Python's str.isspace().
bool is_python_space(char32_t c);

// Python's str.lower(): full case mappings and the final-sigma rule (ICU, root locale).
// Only U+0130 (whose full mapping is two characters) and U+03A3 (final sigma: it depends on
// its neighbours) lower otherwise than by each code point's one-character mapping
// (tests/text/clean_test.cpp checks every code point), so a text without them is mapped
// character by character, without ICU's string conversions.
std::u32string lower(std::u32string s);

// ftfy.fix_text, html.unescape twice, strip, collapse whitespace runs to one space,
// strip, then full Unicode lowercasing (Python's str.lower()).
std::u32string clean_text(const std::u32string& text);

// Plain ASCII text (printable characters, tab, LF, FF; no '&') passes ftfy and
// html.unescape unchanged, and its whitespace only separates the pre-tokenizer's pieces
// (stripping and collapsing it changes none), so lowercasing is all of clean_text that
// matters to it: pretokenize_ascii(lower_plain_ascii(text)) gives the pieces of
// pretokenize(clean_text(text)), the tokenizer's fast path. `out` is written over (a caller
// tokenizing many texts reuses its memory).
bool is_plain_ascii(std::string_view text);
void lower_plain_ascii(std::string_view text, std::string& out);

}  // namespace clip::text
