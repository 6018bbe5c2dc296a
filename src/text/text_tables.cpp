#include "text/text_tables.h"

#include <string_view>

namespace clip::text {

#include "text_tables.inc"

std::span<const NamedEntity> html5_entities() { return kHtml5Entities; }
std::span<const NamedEntity> ftfy_entities() { return kFtfyEntities; }
std::span<const CharrefOverride> html_invalid_charrefs() { return kInvalidCharrefs; }
std::span<const char32_t> html_invalid_codepoints() { return kInvalidCodepoints; }
std::span<const WidthMapping> width_map() { return kWidthMap; }

const char* charmap_name(Charmap encoding) { return kCharmapNames[static_cast<int>(encoding)]; }
std::int32_t charmap_decode(Charmap encoding, unsigned char b) { return kCharmapTables[static_cast<int>(encoding)][b]; }

std::u32string_view utf8_first_of_2() { return kUtf8FirstOf2; }
std::u32string_view utf8_first_of_3() { return kUtf8FirstOf3; }
std::u32string_view utf8_first_of_4() { return kUtf8FirstOf4; }
std::u32string_view utf8_continuation() { return kUtf8Continuation; }
std::u32string_view utf8_continuation_strict() { return kUtf8ContinuationStrict; }

}  // namespace clip::text
