// ftfy's mojibake detection and repair (`is_bad`, `fix_encoding`), as in ftfy 6.3.
#pragma once

#include <string>
#include <string_view>

namespace clip::text {

// True when the text contains a character sequence that is very likely mojibake.
bool is_bad(std::u32string_view text);

// For tests of is_bad's pre-filter: the badness regex alone, and every character that one
// of the regex's plain sets names.
bool is_bad_by_regex(std::u32string_view text);
std::u32string badness_alphabet();

// Repeatedly re-decodes text that was UTF-8 read in a single-byte encoding, repairs
// embedded mojibake and stray C1 controls, until nothing changes.
std::u32string fix_encoding(std::u32string text);

// ftfy's fix_c1_controls: C1 controls read as Windows-1252, like browsers do.
std::u32string fix_c1_controls(std::u32string_view text);

}  // namespace clip::text
