// ftfy.fix_text with its default configuration (ftfy 6.3), as the reference runs it.
#pragma once

#include <string>
#include <string_view>

namespace clip::text {

std::u32string ftfy_fix_text(const std::u32string& text);

// True when ftfy_fix_text(text) is `text` and it holds no '&' (so html.unescape keeps it
// too), decided in one pass over the characters and ftfy's badness test. Most real text
// is such (24,580 of bench_multilingual.jsonl's 29,523 non-ASCII lines); for it,
// cleaning skips the fixers' copies and conversions.
bool ftfy_keeps(std::u32string_view text);

}  // namespace clip::text
