// HTML character references, decoded the two ways the reference decodes them.
#pragma once

#include <string>
#include <string_view>

namespace clip::text {

// Python's `html.unescape`: named references with and without ';' (longest known prefix),
// decimal and hex references with the HTML5 replacement rules.
std::u32string html_unescape(std::u32string_view text);

// ftfy's `unescape_html`: only `&name;` / `&#...;` forms, plus upper-cased names.
std::u32string ftfy_unescape_html(std::u32string_view text);

}  // namespace clip::text
