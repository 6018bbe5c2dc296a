// EXIF orientation: read the tag, and transpose the pixels as ImageOps.exif_transpose.
#include <cstring>

#include "image/decoders.h"

namespace clip::image {

int exif_orientation(Bytes exif) {
  if (exif.size() >= 6 && std::memcmp(exif.data(), "Exif\0\0", 6) == 0) exif = exif.subspan(6);
  if (exif.size() < 8) return 1;
  const bool little = exif[0] == 'I' && exif[1] == 'I';
  if (!little && !(exif[0] == 'M' && exif[1] == 'M')) return 1;
  const auto u16 = [&](std::size_t at) -> std::uint32_t {
    return little ? exif[at] | (exif[at + 1] << 8) : (exif[at] << 8) | exif[at + 1];
  };
  const auto u32 = [&](std::size_t at) -> std::uint32_t {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  const std::uint32_t ifd = u32(4);
  if (ifd > exif.size() - 2) return 1;
  const std::uint32_t count = u16(ifd);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t entry = ifd + 2 + 12 * static_cast<std::size_t>(i);
    if (entry + 12 > exif.size()) return 1;
    if (u16(entry) == 0x0112 && u16(entry + 2) == 3) {  // Orientation, SHORT
      const std::uint32_t v = u16(entry + 8);
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}

Image apply_orientation(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width(), h = in.height();
  const bool swap = orientation >= 5;
  Image out(in.mode(), swap ? h : w, swap ? w : h);
  out.palette() = in.palette();
  out.set_format(in.format());
  const int ow = out.width(), oh = out.height(), bands = in.bands();
  const bool wide = !in.wide_pixels().empty();
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                  // mirror
        case 3: sx = w - 1 - x, sy = h - 1 - y; break;  // rotate 180
        case 4: sy = h - 1 - y; break;                  // flip
        case 5: sx = y, sy = x; break;                  // transpose
        case 6: sx = y, sy = h - 1 - x; break;          // rotate 90 clockwise
        case 7: sx = w - 1 - y, sy = h - 1 - x; break;  // transverse
        case 8: sx = w - 1 - y, sy = x; break;          // rotate 90 counter-clockwise
      }
      const std::size_t src = static_cast<std::size_t>(sy) * w + sx, dst = static_cast<std::size_t>(y) * ow + x;
      if (wide)
        out.wide_pixels()[dst] = in.wide_pixels()[src];
      else
        for (int b = 0; b < bands; ++b) out.pixels()[dst * bands + b] = in.pixels()[src * bands + b];
    }
  return out;
}

}  // namespace clip::image
