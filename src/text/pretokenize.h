// The reference's pre-tokenizer: regex.findall of
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// compiled with IGNORECASE, written out by hand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace clip::text {

// Pieces of `text` in order, as views into it.
std::vector<std::u32string_view> pretokenize(std::u32string_view text);
// The same for ASCII text (the tokenizer's fast path).
std::vector<std::string_view> pretokenize_ascii(std::string_view text);

}  // namespace clip::text
