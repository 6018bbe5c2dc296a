// The reference's text normalisation before pre-tokenisation:
// whitespace_clean(basic_clean(text)).lower()
#pragma once

#include <string>
#include <string_view>

namespace clip::text {

// Python's str.isspace().
bool is_python_space(char32_t c);

// ftfy.fix_text, html.unescape twice, strip, collapse whitespace runs to one space,
// strip, then full Unicode lowercasing (Python's str.lower()).
std::u32string clean_text(const std::u32string& text);

// Plain ASCII text (printable characters, tab, LF, FF; no '&') passes ftfy and
// html.unescape unchanged, so only whitespace and case remain to be cleaned: this is
// clean_text's fast path, byte for byte the same result.
bool is_plain_ascii(std::string_view text);
std::string clean_plain_ascii(std::string_view text);

}  // namespace clip::text
