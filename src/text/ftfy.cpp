#include "text/ftfy.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

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
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(U'\n', pos);
    end = end == std::u32string::npos ? text.size() : end + 1;
    end = std::min(end, pos + kMaxDecodeLength);
    const std::u32string segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != std::u32string::npos) unescape_html = false;
    out += fix_segment(segment, unescape_html);
    pos = end;
  }
  return out;
}

}  // namespace clip::text
