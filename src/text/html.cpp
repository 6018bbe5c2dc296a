#include "text/html.h"

#include <algorithm>
#include <cstring>

#include "text/text_tables.h"

namespace clip::text {
namespace {

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Looks `name` up in a sorted entity table; nullptr when absent or not ASCII.
const char32_t* find_entity(std::span<const NamedEntity> table, std::u32string_view name) {
  std::string key;
  for (char32_t c : name) {
    if (c >= 0x80) return nullptr;
    key.push_back(static_cast<char>(c));
  }
  auto it = std::lower_bound(table.begin(), table.end(), key, [](const NamedEntity& e, const std::string& k) {
    return std::strcmp(e.name, k.c_str()) < 0;
  });
  if (it != table.end() && key == it->name) return it->value;
  return nullptr;
}

// Python's html._replace_charref for a numeric reference with value `num` (saturated).
std::u32string numeric_reference(std::uint64_t num) {
  const auto overrides = html_invalid_charrefs();
  auto it = std::lower_bound(overrides.begin(), overrides.end(), num,
                             [](const CharrefOverride& o, std::uint64_t n) { return o.number < n; });
  if (it != overrides.end() && it->number == num) return it->value;
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
  const auto invalid = html_invalid_codepoints();
  if (std::binary_search(invalid.begin(), invalid.end(), static_cast<char32_t>(num))) return U"";
  return std::u32string(1, static_cast<char32_t>(num));
}

std::uint64_t saturating_digit(std::uint64_t value, unsigned base, unsigned digit) {
  constexpr std::uint64_t kCap = 0x110000;  // anything above U+10FFFF behaves the same
  value = value * base + digit;
  return value > kCap ? kCap : value;
}

unsigned hex_value(char32_t c) {
  if (c <= '9') return c - '0';
  if (c >= 'a') return c - 'a' + 10;
  return c - 'A' + 10;
}

}  // namespace

std::u32string html_unescape(std::u32string_view s) {
  if (s.find(U'&') == std::u32string_view::npos) return std::u32string(s);
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    const std::size_t start = i + 1;
    std::size_t j = start;
    if (j < s.size() && s[j] == U'#') {
      // &#123;? or &#x1F;?
      std::uint64_t num = 0;
      std::size_t k = j + 1;
      if (k < s.size() && is_ascii_digit(s[k])) {
        while (k < s.size() && is_ascii_digit(s[k])) num = saturating_digit(num, 10, s[k++] - '0');
      } else if (k + 1 < s.size() && (s[k] == U'x' || s[k] == U'X') && is_ascii_hex(s[k + 1])) {
        ++k;
        while (k < s.size() && is_ascii_hex(s[k])) num = saturating_digit(num, 16, hex_value(s[k++]));
      } else {
        out.push_back(s[i++]);  // no reference here
        continue;
      }
      if (k < s.size() && s[k] == U';') ++k;
      out += numeric_reference(num);
      i = k;
      continue;
    }
    // Named: up to 32 characters other than \t \n \f space < & # ;, then an optional ';'.
    while (j < s.size() && j - start < 32) {
      const char32_t c = s[j];
      if (c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' || c == U'#' || c == U';')
        break;
      ++j;
    }
    if (j == start) {
      out.push_back(s[i++]);
      continue;
    }
    if (j < s.size() && s[j] == U';') ++j;
    const std::u32string_view name = s.substr(start, j - start);
    if (const char32_t* value = find_entity(html5_entities(), name)) {
      out += value;
    } else {
      // The longest prefix (at least 2 characters) that is a known name.
      bool found = false;
      for (std::size_t x = name.size() - 1; x > 1; --x) {
        if (const char32_t* value = find_entity(html5_entities(), name.substr(0, x))) {
          out += value;
          out += name.substr(x);
          found = true;
          break;
        }
      }
      if (!found) {
        out.push_back(U'&');
        out += name;
      }
    }
    i = j;
  }
  return out;
}

std::u32string ftfy_unescape_html(std::u32string_view s) {
  if (s.find(U'&') == std::u32string_view::npos) return std::u32string(s);
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == U'&') {
      // &#?[0-9A-Za-z]{1,24};
      for (const bool hash : {true, false}) {
        std::size_t k = i + 1;
        if (hash) {
          if (k >= s.size() || s[k] != U'#') continue;
          ++k;
        }
        const std::size_t run_start = k;
        while (k < s.size() && is_ascii_alnum(s[k]) && k - run_start < 24) ++k;
        if (k == run_start || k >= s.size() || s[k] != U';') continue;
        const std::u32string_view match = s.substr(i, k + 1 - i);
        std::u32string replacement(match);
        if (const char32_t* value = find_entity(ftfy_entities(), match)) {
          replacement = value;
        } else if (hash) {
          std::u32string unescaped = html_unescape(match);
          if (unescaped.find(U';') == std::u32string::npos) replacement = std::move(unescaped);
        }
        out += replacement;
        i = k + 1;
        goto next;
      }
    }
    out.push_back(s[i++]);
  next:;
  }
  return out;
}

}  // namespace clip::text
