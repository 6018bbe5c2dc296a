// TGA (Truevision Targa), decoded by hand with the rules of Pillow 9.4's TgaImagePlugin
// and its tga_rle decoder (no Debian library reads TGA as Pillow does): gray (1, 8-bit,
// 8-bit + alpha), palette (15/16, 24, 32-bit entries), 16/24/32-bit colour, raw or RLE,
// the four orientations. TGA has no magic number: Pillow tries it after the formats that
// have one, and so does Image::decode; `is_tga` is its header check.
#include <array>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

// Pillow's BGR;15 / BGR;5 unpackers: 5-bit channels as value * 255 / 31, rounded down.
std::array<std::uint8_t, 3> bgr15(unsigned v) {
  return {static_cast<std::uint8_t>(((v >> 10) & 31) * 255 / 31), static_cast<std::uint8_t>(((v >> 5) & 31) * 255 / 31),
          static_cast<std::uint8_t>((v & 31) * 255 / 31)};
}

}  // namespace

bool is_tga(Bytes d) {
  if (d.size() < 18) return false;
  const int colormap_type = d[1], image_type = d[2], depth = d[16];
  return (colormap_type == 0 || colormap_type == 1) && le16(d, 12) > 0 && le16(d, 14) > 0 &&
         (depth == 1 || depth == 8 || depth == 16 || depth == 24 || depth == 32) &&
         (image_type == 1 || image_type == 2 || image_type == 3 || image_type == 9 || image_type == 10 ||
          image_type == 11);
}

Image decode_tga(Bytes d, const DecodeContext& ctx) {
  if (!is_tga(d)) ctx.fail("not a TGA file");
  const int id_length = d[0], colormap_type = d[1], image_type = d[2], depth = d[16], flags = d[17];
  const int w = le16(d, 12), h = le16(d, 14);
  const int kind = image_type & 7;
  // The raw modes Pillow has for (kind, depth); any other pair opens but cannot load.
  ImageMode mode;
  if (kind == 3 && depth == 1)
    mode = ImageMode::One;
  else if (kind == 3 && depth == 8)
    mode = ImageMode::L;
  else if (kind == 3 && depth == 16)
    mode = ImageMode::LA;
  else if (kind == 1 && depth == 8)
    mode = ImageMode::P;
  else if (kind == 2 && (depth == 16 || depth == 24))
    mode = ImageMode::RGB;
  else if (kind == 2 && depth == 32)
    mode = ImageMode::RGBA;
  else
    ctx.fail("TGA image type " + std::to_string(image_type) + " with " + std::to_string(depth) +
             "-bit pixels (the reference cannot read it either)");
  ctx.check_size(w, h);
  const bool top_down = flags & 0x20, mirrored = flags & 0x10;

  std::size_t at = 18 + static_cast<std::size_t>(id_length);
  std::vector<std::array<std::uint8_t, 3>> palette;
  if (colormap_type == 1) {
    // Entries before `start` are zeros; what the file holds follows (fewer if it ends).
    // A map depth other than 15/16, 24, 32 is skipped without reading it, as Pillow does.
    const std::size_t start = le16(d, 3), count = le16(d, 5);
    const int map_depth = d[7];
    const std::size_t entry = map_depth == 16 ? 2 : map_depth == 24 ? 3 : map_depth == 32 ? 4 : 0;
    if (entry && mode != ImageMode::P)
      ctx.fail("a colour map on a TGA image without a palette (the reference, Pillow 9.4, fails on it too)");
    if (entry == 4) ctx.fail("a TGA palette of 32-bit entries (the reference, Pillow 9.4, cannot read it)");
    if (entry) {
      palette.assign(start, {0, 0, 0});
      const std::size_t available = at < d.size() ? std::min(count, (d.size() - at) / entry) : 0;
      for (std::size_t i = 0; i < available; ++i) {
        const std::uint8_t* p = d.data() + at + i * entry;
        palette.push_back(entry == 2 ? bgr15(p[0] | (p[1] << 8)) : std::array<std::uint8_t, 3>{p[2], p[1], p[0]});
      }
      at += std::min(count * entry, d.size() - std::min(at, d.size()));
    }
  }
  if (mode == ImageMode::P) {
    palette.resize(std::min<std::size_t>(palette.size(), 256));
    pad_palette_with_gray_ramp(palette);
  }

  // The pixels, rows in file order, each `row` bytes.
  const std::size_t pixel_bytes = (depth + 7) / 8;
  const std::size_t row = depth == 1 ? (static_cast<std::size_t>(w) + 7) / 8 : w * pixel_bytes;
  std::vector<std::uint8_t> rows;
  if (image_type & 8) {
    // tga_rle: packets of a header byte (bit 7: a run of one pixel repeated, else literal
    // pixels; low 7 bits + 1 pixels). Pillow refuses a packet that crosses a row's end
    // ("buffer overrun"), which the TGA 2.0 specification also forbids.
    rows.reserve(row * h);
    for (int r = 0; r < h; ++r) {
      for (std::size_t x = 0; x < row;) {
        if (at >= d.size()) ctx.fail("truncated TGA RLE data");
        const std::uint8_t head = d[at++];
        const std::size_t n = (head & 0x7F) + 1;
        if (x + n * pixel_bytes > row) ctx.fail("a TGA RLE packet crosses a row's end (the reference refuses it too)");
        const std::size_t bytes = head & 0x80 ? pixel_bytes : n * pixel_bytes;
        if (d.size() - at < bytes) ctx.fail("truncated TGA RLE data");
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint8_t* p = d.data() + at + (head & 0x80 ? 0 : i * pixel_bytes);
          rows.insert(rows.end(), p, p + pixel_bytes);
        }
        at += bytes;
        x += n * pixel_bytes;
      }
    }
  } else {
    if (at > d.size() || d.size() - at < row * h) ctx.fail("truncated TGA pixel data");
    rows.assign(d.begin() + static_cast<std::ptrdiff_t>(at), d.begin() + static_cast<std::ptrdiff_t>(at + row * h));
  }

  Image image(mode, w, h);
  if (mode == ImageMode::P) image.palette() = std::move(palette);
  const int bands = image.bands();
  auto px = image.pixels();
  for (int r = 0; r < h; ++r) {
    const std::uint8_t* in = rows.data() + static_cast<std::size_t>(r) * row;
    const int y = top_down ? r : h - 1 - r;
    for (int x = 0; x < w; ++x) {
      std::uint8_t* out = px.data() + (static_cast<std::size_t>(y) * w + (mirrored ? w - 1 - x : x)) * bands;
      const std::uint8_t* p = in + x * pixel_bytes;
      switch (mode) {
        case ImageMode::One: out[0] = (in[x / 8] >> (7 - x % 8)) & 1 ? 255 : 0; break;
        case ImageMode::L:
        case ImageMode::P: out[0] = p[0]; break;
        case ImageMode::LA: out[0] = p[0], out[1] = p[1]; break;
        case ImageMode::RGB:
          if (depth == 16) {
            const auto c = bgr15(p[0] | (p[1] << 8));
            out[0] = c[0], out[1] = c[1], out[2] = c[2];
          } else {
            out[0] = p[2], out[1] = p[1], out[2] = p[0];
          }
          break;
        default:  // RGBA from BGRA
          out[0] = p[2], out[1] = p[1], out[2] = p[0], out[3] = p[3];
      }
    }
  }
  image.set_format("TGA");
  return image;
}

}  // namespace clip::image
