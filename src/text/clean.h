// The reference's text normalisation before pre-tokenisation:
// whitespace_clean(basic_clean(text)).lower()
#pragma once

#include <string>

namespace clip::text {

// Python's str.isspace().
bool is_python_space(char32_t c);

// ftfy.fix_text, html.unescape twice, strip, collapse whitespace runs to one space,
// strip, then full Unicode lowercasing (Python's str.lower()).
std::u32string clean_text(const std::u32string& text);

}  // namespace clip::text
