// BMP, decoded by hand as Pillow's own BmpImagePlugin does: uncompressed 1/4/8-bit
// palettes (mode 1 or L when the palette is the plain black/white or gray ramp, else P),
// 16/24/32-bit colour. RLE compression is refused with a clear error.
#include <cstring>

#include "image/decoders.h"

namespace clip::image {
namespace {

std::uint32_t u32(Bytes d, std::size_t at) {
  return d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (static_cast<std::uint32_t>(d[at + 3]) << 24);
}
std::uint16_t u16(Bytes d, std::size_t at) { return static_cast<std::uint16_t>(d[at] | (d[at + 1] << 8)); }

// Value of a masked channel scaled to 8 bits, as Pillow's BGR;15/BGR;16/BGRA unpackers.
int shift_of(std::uint32_t mask) {
  int s = 0;
  while (mask && !(mask & 1)) mask >>= 1, ++s;
  return s;
}

}  // namespace

Image decode_bmp(Bytes d, const DecodeContext& ctx) {
  if (d.size() < 26) ctx.fail("truncated BMP header");
  const std::uint32_t pixel_offset = u32(d, 10);
  const std::uint32_t header_size = u32(d, 14);
  if (header_size != 12 && header_size < 40) ctx.fail("unsupported BMP header size " + std::to_string(header_size));
  if (d.size() < 14 + static_cast<std::size_t>(header_size)) ctx.fail("truncated BMP header");
  std::int64_t width, height;
  int bits;
  std::uint32_t compression = 0, colors_used = 0;
  if (header_size == 12) {
    width = u16(d, 18);
    height = static_cast<std::int16_t>(u16(d, 20));
    bits = u16(d, 24);
  } else {
    width = static_cast<std::int32_t>(u32(d, 18));
    height = static_cast<std::int32_t>(u32(d, 22));
    bits = u16(d, 28);
    compression = u32(d, 30);
    colors_used = u32(d, 46);
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  ctx.check_size(width, height);
  if (compression != 0 && compression != 3)
    ctx.fail("unsupported BMP compression " + std::to_string(compression) +
             " (RLE and embedded JPEG/PNG are not supported)");
  if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
    ctx.fail("unsupported BMP bit depth " + std::to_string(bits));

  // Channel masks for 16 and 32 bits (defaults when not given).
  std::uint32_t masks[4] = {0, 0, 0, 0};
  if (bits == 16) masks[0] = 0x7C00, masks[1] = 0x03E0, masks[2] = 0x001F;
  if (bits == 32) masks[0] = 0xFF0000, masks[1] = 0xFF00, masks[2] = 0xFF;
  if (compression == 3) {
    const std::size_t at = header_size >= 52 ? 54 : 14 + header_size;
    if (d.size() < at + 12) ctx.fail("truncated BMP colour masks");
    for (int i = 0; i < 3; ++i) masks[i] = u32(d, at + 4 * i);
    if (header_size >= 56 || d.size() >= at + 16) masks[3] = header_size >= 56 ? u32(d, 66) : 0;
  }

  const std::size_t stride = ((static_cast<std::size_t>(width) * bits + 31) / 32) * 4;
  if (pixel_offset > d.size() || stride * static_cast<std::size_t>(height) > d.size() - pixel_offset)
    ctx.fail("truncated BMP pixel data");
  const auto row_at = [&](std::int64_t y) {
    const std::int64_t file_row = top_down ? y : height - 1 - y;
    return d.data() + pixel_offset + static_cast<std::size_t>(file_row) * stride;
  };
  const int w = static_cast<int>(width), h = static_cast<int>(height);

  if (bits <= 8) {
    const std::uint32_t colors = colors_used ? colors_used : (1u << bits);
    const int entry = header_size == 12 ? 3 : 4;
    const std::size_t palette_at = 14 + header_size;
    if (colors > 256 || palette_at + static_cast<std::size_t>(colors) * entry > d.size())
      ctx.fail("truncated or invalid BMP palette");
    std::vector<std::array<std::uint8_t, 3>> palette;
    bool gray = true;
    for (std::uint32_t i = 0; i < colors; ++i) {
      const std::uint8_t* p = d.data() + palette_at + i * entry;
      palette.push_back({p[2], p[1], p[0]});
      const unsigned expect = colors == 2 ? i * 255 : i;
      gray = gray && p[0] == expect && p[1] == expect && p[2] == expect;
    }
    const ImageMode mode = gray ? (colors == 2 ? ImageMode::One : ImageMode::L) : ImageMode::P;
    Image image(mode, w, h);
    if (!gray) image.palette() = palette;
    auto px = image.pixels();
    for (int y = 0; y < h; ++y) {
      const std::uint8_t* row = row_at(y);
      for (int x = 0; x < w; ++x) {
        const std::size_t bit = static_cast<std::size_t>(x) * bits;
        const unsigned index = (row[bit / 8] >> (8 - bits - bit % 8)) & ((1u << bits) - 1);
        px[static_cast<std::size_t>(y) * w + x] =
            static_cast<std::uint8_t>(mode == ImageMode::One ? (index ? 255 : 0) : index);
      }
    }
    image.set_format("BMP");
    return image;
  }

  const bool alpha = bits == 32 && masks[3] != 0;
  Image image(alpha ? ImageMode::RGBA : ImageMode::RGB, w, h);
  auto px = image.pixels();
  const int bands = alpha ? 4 : 3;
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = row_at(y);
    std::uint8_t* out = px.data() + static_cast<std::size_t>(y) * w * bands;
    for (int x = 0; x < w; ++x, out += bands) {
      if (bits == 24) {
        out[0] = row[3 * x + 2], out[1] = row[3 * x + 1], out[2] = row[3 * x];
        continue;
      }
      const std::uint32_t v = bits == 16 ? u16(Bytes(row, stride), 2 * static_cast<std::size_t>(x))
                                         : u32(Bytes(row, stride), 4 * static_cast<std::size_t>(x));
      for (int c = 0; c < bands; ++c) {
        const std::uint32_t mask = masks[c];
        const std::uint32_t max = mask >> shift_of(mask);
        const std::uint32_t value = (v & mask) >> shift_of(mask);
        out[c] = static_cast<std::uint8_t>(max ? (value * 255 + max / 2) / max : 0);
      }
    }
  }
  image.set_format("BMP");
  return image;
}

}  // namespace clip::image
