#include "text/utf8.h"

#include "clip/error.h"

namespace clip::text {
namespace {

// Length of the valid UTF-8 sequence starting at bytes[i], or 0 when it is invalid; in
// that case `*bad_len` receives how many bytes form the maximal invalid subpart (>= 1).
std::size_t valid_sequence_length(std::string_view bytes, std::size_t i, char32_t* cp, std::size_t* bad_len) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char lead = b(i);
  *bad_len = 1;
  if (lead < 0x80) {
    *cp = lead;
    return 1;
  }
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  char32_t value = lead & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < need; ++k) {
    if (i + k >= bytes.size()) {
      *bad_len = k;
      return 0;
    }
    const unsigned char c = b(i + k);
    const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (c < min || c > max) {
      *bad_len = k;
      return 0;
    }
    value = (value << 6) | (c & 0x3F);
  }
  *cp = value;
  return need;
}

// CESU-8 pair ED [A0-AF] xx ED [B0-BF] xx at bytes[i], as ftfy's utf-8-variants reads it.
bool cesu_pair(std::string_view bytes, std::size_t i, char32_t* cp) {
  if (i + 6 > bytes.size()) return false;
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(bytes[i + k]); };
  const auto cont = [](unsigned char c) { return c >= 0x80 && c <= 0xBF; };
  if (b(0) != 0xED || b(1) < 0xA0 || b(1) > 0xAF || !cont(b(2)) || b(3) != 0xED || b(4) < 0xB0 || b(4) > 0xBF ||
      !cont(b(5)))
    return false;
  const char32_t high = 0xD000 | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  const char32_t low = 0xD000 | ((b(4) & 0x3F) << 6) | (b(5) & 0x3F);
  *cp = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
  return true;
}

// Decodes, or returns nullopt and the offset of the first undecodable byte.
std::optional<std::u32string> decode(std::string_view bytes, bool variants, std::size_t* error_offset) {
  std::u32string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    char32_t cp;
    std::size_t bad;
    if (const std::size_t n = valid_sequence_length(bytes, i, &cp, &bad)) {
      out.push_back(cp);
      i += n;
    } else if (variants && cesu_pair(bytes, i, &cp)) {
      out.push_back(cp);
      i += 6;
    } else if (variants && i + 1 < bytes.size() && static_cast<unsigned char>(bytes[i]) == 0xC0 &&
               static_cast<unsigned char>(bytes[i + 1]) == 0x80) {
      out.push_back(0);
      i += 2;
    } else {
      *error_offset = i;
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

std::optional<std::u32string> decode_utf8(std::string_view bytes, bool variants) {
  std::size_t error_offset;
  return decode(bytes, variants, &error_offset);
}

std::u32string utf8_to_u32(std::string_view bytes, std::string_view what) {
  std::size_t error_offset = 0;
  std::optional<std::u32string> out = decode(bytes, false, &error_offset);
  if (!out)
    throw Error(std::string(what) + " is not valid UTF-8 (invalid byte sequence at offset " +
                std::to_string(error_offset) + ")");
  return std::move(*out);
}

std::string utf8_replace_invalid(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    char32_t cp;
    std::size_t bad;
    if (const std::size_t n = valid_sequence_length(bytes, i, &cp, &bad)) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += bad;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string u32_to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

}  // namespace clip::text
