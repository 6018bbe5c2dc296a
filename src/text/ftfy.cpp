#include "text/ftfy.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/unorm2.h>

#include <algorithm>

#include "clip/error.h"
#include "text/html.h"
#include "text/mojibake.h"
#include "text/text_tables.h"

namespace clip::text {
namespace {

constexpr std::size_t kMaxDecodeLength = 1000000;  // ftfy's max_decode_length

// ftfy.chardata.LIGATURES
const char32_t* latin_ligature(char32_t c) {
  switch (c) {
    case U'Ĳ': return U"IJ";
    case U'ĳ': return U"ij";
    case U'ŉ': return U"ʼn";
    case U'Ǳ': return U"DZ";
    case U'ǲ': return U"Dz";
    case U'ǳ': return U"dz";
    case U'Ǆ': return U"DŽ";
    case U'ǅ': return U"Dž";
    case U'ǆ': return U"dž";
    case U'Ǉ': return U"LJ";
    case U'ǈ': return U"Lj";
    case U'ǉ': return U"lj";
    case U'Ǌ': return U"NJ";
    case U'ǋ': return U"Nj";
    case U'ǌ': return U"nj";
    case U'ﬀ': return U"ff";
    case U'ﬁ': return U"fi";
    case U'ﬂ': return U"fl";
    case U'ﬃ': return U"ffi";
    case U'ﬄ': return U"ffl";
    case U'ﬅ': return U"ſt";
    case U'ﬆ': return U"st";
    default: return nullptr;
  }
}

const char32_t* width_replacement(char32_t c) {
  if (c != 0x3000 && (c < 0xFF01 || c > 0xFFEF)) return nullptr;
  const auto table = width_map();
  auto it = std::lower_bound(table.begin(), table.end(), c,
                             [](const WidthMapping& m, char32_t v) { return m.code_point < v; });
  return it != table.end() && it->code_point == c ? it->value : nullptr;
}

// ftfy.chardata.CONTROL_CHARS
bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks, in one pass.
// Each is a character-wise translation; composing them in this order is what ftfy does.
std::u32string translate_characters(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto emit = [&](char32_t c) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
      c = U'\'';
    else if (c >= 0x201C && c <= 0x201F)
      c = U'"';
    out.push_back(c);
  };
  for (char32_t c : text) {
    if (const char32_t* lig = latin_ligature(c)) {
      for (const char32_t* p = lig; *p; ++p) {
        if (const char32_t* w = width_replacement(*p)) {
          for (; *w; ++w) emit(*w);
        } else {
          emit(*p);
        }
      }
    } else if (const char32_t* w = width_replacement(c)) {
      for (; *w; ++w) emit(*w);
    } else {
      emit(c);
    }
  }
  // fix_line_breaks: CRLF, CR, U+2028, U+2029, U+0085 -> LF
  std::u32string lines;
  lines.reserve(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char32_t c = out[i];
    if (c == U'\r') {
      lines.push_back(U'\n');
      if (i + 1 < out.size() && out[i + 1] == U'\n') ++i;
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      lines.push_back(U'\n');
    } else {
      lines.push_back(c);
    }
  }
  return lines;
}

// remove_terminal_escapes: ESC [ (digits | ;)* letter, where digits are any Unicode Nd.
std::u32string remove_terminal_escapes(const std::u32string& text) {
  if (text.find(U'\x1b') == std::u32string::npos) return text;
  std::u32string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == 0x1B && i + 1 < text.size() && text[i + 1] == U'[') {
      std::size_t k = i + 2;
      while (k < text.size() &&
             (text[k] == U';' || u_charType(static_cast<UChar32>(text[k])) == U_DECIMAL_DIGIT_NUMBER))
        ++k;
      if (k < text.size() && ((text[k] >= U'a' && text[k] <= U'z') || (text[k] >= U'A' && text[k] <= U'Z'))) {
        i = k + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

std::u32string nfc(const std::u32string& text) {
  bool ascii = true;
  for (char32_t c : text) ascii = ascii && c < 0x80;
  if (ascii) return text;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) throw Error("ICU: NFC normalizer unavailable");
  const icu::UnicodeString in =
      icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()), static_cast<int32_t>(text.size()));
  const icu::UnicodeString normalized = normalizer->normalize(in, status);
  if (U_FAILURE(status)) throw Error("ICU: NFC normalization failed");
  std::u32string out(static_cast<std::size_t>(normalized.countChar32()), U'\0');
  normalized.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), status);
  return out;
}

// A character that none of fix_segment's fixers changes, removes or combines with its
// neighbours (ignoring fix_encoding, which looks at whole segments).
bool is_inert(char32_t c, std::uint8_t& previous_combining_class) {
  if (c < 0x80) {
    previous_combining_class = 0;
    return c != U'&' && c != U'\r' && !is_removed_control(c);
  }
  if (c <= 0x9F) return false;  // C1 controls, U+0085 (a line break)
  if (latin_ligature(c) || width_replacement(c) || is_removed_control(c)) return false;
  if (c == 0x02BC || (c >= 0x2018 && c <= 0x201F) || c == 0x2028 || c == 0x2029) return false;  // quotes, breaks
  // NFC: a text is normalized when every character is NFC_Quick_Check=Yes and the
  // non-zero combining classes never decrease (UAX #15's quick check); below U+0300 every
  // character is Yes with class 0.
  if (c < 0x300) {
    previous_combining_class = 0;
    return true;
  }
  const auto u = static_cast<UChar32>(c);
  if (u_getIntPropertyValue(u, UCHAR_NFC_QUICK_CHECK) != UNORM_YES) return false;
  const std::uint8_t combining_class = u_getCombiningClass(u);
  if (combining_class != 0 && combining_class < previous_combining_class) return false;
  previous_combining_class = combining_class;
  return true;
}

// ftfy.fix_text splits the text into lines of at most max_decode_length and fixes each.
template <typename Segment>
void for_each_segment(std::u32string_view text, Segment segment) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(U'\n', pos);
    end = end == std::u32string_view::npos ? text.size() : end + 1;
    end = std::min(end, pos + kMaxDecodeLength);
    segment(text.substr(pos, end - pos));
    pos = end;
  }
}

// ftfy.fix_and_explain: apply every fixer in order until the text stops changing.
std::u32string fix_segment(std::u32string text, bool unescape_html) {
  while (true) {
    const std::u32string before = text;
    if (unescape_html) text = ftfy_unescape_html(text);
    text = fix_encoding(std::move(text));
    text = fix_c1_controls(text);
    text = translate_characters(text);
    // fix_surrogates has nothing to do: our strings never hold surrogates.
    text = remove_terminal_escapes(text);
    std::erase_if(text, is_removed_control);
    text = nfc(text);
    if (text == before) return text;
  }
}

}  // namespace

std::u32string ftfy_fix_text(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  bool unescape_html = true;  // "auto": off from the first segment holding '<' onwards
  for_each_segment(text, [&](std::u32string_view segment) {
    if (segment.find(U'<') != std::u32string::npos) unescape_html = false;
    out += fix_segment(std::u32string(segment), unescape_html);
  });
  return out;
}

bool ftfy_keeps(std::u32string_view text) {
  std::uint8_t combining_class = 0;
  for (char32_t c : text)
    if (!is_inert(c, combining_class)) return false;
  // What is left is fix_encoding's own test, one step on each segment.
  bool keeps = true;
  for_each_segment(text, [&](std::u32string_view segment) {
    const bool ascii = std::all_of(segment.begin(), segment.end(), [](char32_t c) { return c < 0x80; });
    if (!ascii && is_bad(segment)) keeps = false;
  });
  return keeps;
}

}  // namespace clip::text
