#include "text/pretokenize.h"

#include <unicode/uchar.h>

#include <array>
#include <type_traits>

namespace clip::text {
namespace {

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= U'a' && (c | 0x20) <= U'z';
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0;
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= U'0' && c <= U'9';
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0;
}

bool is_space(char32_t c) {
  if (c < 0x80) return c == U' ' || (c >= U'\t' && c <= U'\r');
  return u_isUWhiteSpace(static_cast<UChar32>(c));
}

// [^\s\p{L}\p{N}] under IGNORECASE: a character is excluded when any of its case
// variants is a space, letter or number (so U+0345, which folds to iota, matches
// nothing and is dropped, as in the reference).
bool is_other(char32_t c) {
  if (c < 0x80) return !is_letter(c) && !is_number(c) && !is_space(c);
  const UChar32 u = static_cast<UChar32>(c);
  for (UChar32 v : {u, u_foldCase(u, U_FOLD_CASE_DEFAULT), u_tolower(u), u_toupper(u), u_totitle(u)}) {
    const char32_t w = static_cast<char32_t>(v);
    if (is_letter(w) || is_number(w) || is_space(w)) return false;
  }
  return true;
}

template <typename Char>
char32_t code_point(Char c) {
  return static_cast<char32_t>(static_cast<std::make_unsigned_t<Char>>(c));
}

// Case-insensitive match of an ASCII literal (IGNORECASE uses simple case folding, so
// U+017F LONG S matches 's').
template <typename Char>
bool matches_at(std::basic_string_view<Char> text, std::size_t i, std::u32string_view literal) {
  if (text.size() - i < literal.size()) return false;
  for (std::size_t k = 0; k < literal.size(); ++k) {
    const char32_t c = code_point(text[i + k]);
    if (c == literal[k]) continue;
    const UChar32 folded = u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT);
    if (static_cast<char32_t>(folded) != literal[k]) return false;
  }
  return true;
}

template <typename Char>
std::size_t special_or_contraction_length(std::basic_string_view<Char> text, std::size_t i) {
  static constexpr std::u32string_view kLiterals[] = {
      U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  const char32_t c = code_point(text[i]);
  if (c != U'<' && c != U'\'') return 0;
  for (std::u32string_view lit : kLiterals)
    if (lit[0] == c && matches_at(text, i, lit)) return lit.size();
  return 0;
}

// Which of the pattern's runs a character belongs to. Every character of the text is
// classed once: the ASCII ones by a table, as the captions are (calling is_letter,
// is_number and is_other in turn was 31% of tokenizing the 10,000 captions, perf).
enum class Class : unsigned char { kLetter, kNumber, kOther, kNone };  // kNone: whitespace, or no alternative

const std::array<Class, 128> kAsciiClass = [] {
  std::array<Class, 128> table{};
  for (char32_t a = 0; a < 128; ++a)
    table[a] = is_letter(a)   ? Class::kLetter
               : is_number(a) ? Class::kNumber
               : is_space(a)  ? Class::kNone
                              : Class::kOther;
  return table;
}();

Class class_of(char32_t c) {
  if (c < 0x80) return kAsciiClass[c];
  return is_letter(c) ? Class::kLetter : is_number(c) ? Class::kNumber : is_other(c) ? Class::kOther : Class::kNone;
}

template <typename Char>
void split(std::basic_string_view<Char> text, std::vector<std::basic_string_view<Char>>& pieces) {
  pieces.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    if (const std::size_t n = special_or_contraction_length(text, i)) {
      i += n;
    } else {
      const Class c = class_of(code_point(text[i++]));
      if (c == Class::kNone) continue;
      if (c != Class::kNumber)  // a run of letters, or of the rest; a number is one character
        while (i < text.size() && class_of(code_point(text[i])) == c) ++i;
    }
    pieces.push_back(text.substr(start, i - start));
  }
}

}  // namespace

void pretokenize(std::u32string_view text, std::vector<std::u32string_view>& pieces) { split(text, pieces); }

void pretokenize_ascii(std::string_view text, std::vector<std::string_view>& pieces) { split(text, pieces); }

}  // namespace clip::text
