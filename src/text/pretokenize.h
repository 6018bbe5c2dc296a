// The reference's pre-tokenizer: regex.findall of
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// compiled with IGNORECASE, written out by hand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace clip::text {

// Pieces of `text` in order, as views into it, written over `pieces` (whose memory a
// caller tokenizing many texts reuses).
void pretokenize(std::u32string_view text, std::vector<std::u32string_view>& pieces);
// The same for ASCII text (the tokenizer's fast path).
void pretokenize_ascii(std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace clip::text
