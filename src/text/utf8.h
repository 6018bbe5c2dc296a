// UTF-8 <-> code points, with the exact error behaviour of Python's codecs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace clip::text {

// Strict UTF-8 (as Python's "utf-8" codec). Throws clip::Error naming `what` and the byte
// offset of the first invalid sequence.
std::u32string utf8_to_u32(std::string_view bytes, std::string_view what = "text");

// Python's `bytes.decode("utf-8")`, or ftfy's "utf-8-variants" when `variants` is set
// (which also accepts CESU-8 surrogate pairs and the Java null C0 80). nullopt where
// Python would raise UnicodeDecodeError.
std::optional<std::u32string> decode_utf8(std::string_view bytes, bool variants = false);

// Python's `bytes.decode("utf-8", errors="replace")`: one U+FFFD per maximal invalid
// subpart.
std::string utf8_replace_invalid(std::string_view bytes);

void append_utf8(std::string& out, char32_t cp);
std::string u32_to_utf8(std::u32string_view text);

}  // namespace clip::text
