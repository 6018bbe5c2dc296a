#include "text/clean.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "text/ftfy.h"
#include "text/html.h"

namespace clip::text {
namespace {

// True when ftfy.fix_text provably leaves the text unchanged: printable ASCII, tab, LF
// and FF only, and no '&' (HTML entities).
bool ftfy_is_identity(const std::u32string& text) {
  for (char32_t c : text) {
    if (c >= 0x7F || c == U'&') return false;
    if (c < 0x20 && c != U'\t' && c != U'\n' && c != U'\f') return false;
  }
  return true;
}

// The `regex` module's \s (the White_Space property).
bool is_regex_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

std::u32string strip(const std::u32string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_python_space(s[b])) ++b;
  while (e > b && is_python_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::u32string lower(const std::u32string& s) {
  bool ascii = true;
  for (char32_t c : s) ascii = ascii && c < 0x80;
  if (ascii) {
    std::u32string out = s;
    for (char32_t& c : out)
      if (c >= U'A' && c <= U'Z') c += 32;
    return out;
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()),
                                                       static_cast<int32_t>(s.size()));
  u.toLower(icu::Locale::getRoot());  // full mappings and the final-sigma rule
  std::u32string out(static_cast<std::size_t>(u.countChar32()), U'\0');
  UErrorCode status = U_ZERO_ERROR;
  u.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), status);
  return out;
}

}  // namespace

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::u32string clean_text(const std::u32string& text) {
  // basic_clean
  std::u32string s = ftfy_is_identity(text) ? text : ftfy_fix_text(text);
  s = html_unescape(html_unescape(s));
  s = strip(s);
  // whitespace_clean
  std::u32string collapsed;
  collapsed.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (is_regex_space(s[i])) {
      collapsed.push_back(U' ');
      while (i < s.size() && is_regex_space(s[i])) ++i;
    } else {
      collapsed.push_back(s[i++]);
    }
  }
  return lower(strip(collapsed));
}

}  // namespace clip::text
