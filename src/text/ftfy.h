// ftfy.fix_text with its default configuration (ftfy 6.3), as the reference runs it.
#pragma once

#include <string>

namespace clip::text {

std::u32string ftfy_fix_text(const std::u32string& text);

}  // namespace clip::text
