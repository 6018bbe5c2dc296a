// Tables the reference's text cleaning takes from the Python standard library (HTML5
// entities, single-byte codecs, width forms), generated at build time by
// tools/gen_text_tables.py.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace clip::text {

struct NamedEntity {
  const char* name;  // "amp;", "amp", "&AMP;" ... (ASCII)
  const char32_t* value;
};
struct CharrefOverride {
  std::uint32_t number;
  const char32_t* value;
};
struct WidthMapping {
  char32_t code_point;
  const char32_t* value;
};

// Python's html.entities.html5, sorted by name.
std::span<const NamedEntity> html5_entities();
// ftfy's HTML_ENTITIES (keys include the '&'), sorted by name.
std::span<const NamedEntity> ftfy_entities();
// html._invalid_charrefs, sorted by number.
std::span<const CharrefOverride> html_invalid_charrefs();
// html._invalid_codepoints, sorted.
std::span<const char32_t> html_invalid_codepoints();
// ftfy.chardata.WIDTH_MAP, sorted by code point.
std::span<const WidthMapping> width_map();

// ftfy's CHARMAP_ENCODINGS, in the order ftfy tries them.
enum class Charmap {
  Latin1,
  SloppyWindows1252,
  SloppyWindows1251,
  SloppyWindows1250,
  SloppyWindows1253,
  SloppyWindows1254,
  SloppyWindows1257,
  Iso8859_2,
  MacRoman,
  Cp437,
  Count
};
const char* charmap_name(Charmap encoding);
// Code point that byte b decodes to, or -1 where the codec leaves b undefined.
std::int32_t charmap_decode(Charmap encoding, unsigned char b);

// ftfy's UTF8_CLUES character classes.
std::u32string_view utf8_first_of_2();
std::u32string_view utf8_first_of_3();
std::u32string_view utf8_first_of_4();
std::u32string_view utf8_continuation();
std::u32string_view utf8_continuation_strict();

}  // namespace clip::text
