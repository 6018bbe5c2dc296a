// BMP, decoded by hand with the rules of Pillow 9.4's BmpImagePlugin (no Debian library
// reads BMP the way Pillow does, and Pillow's own reading has quirks that decide pixels):
// 1/4/8-bit palettes (mode 1 or L when the palette is the plain black/white or gray ramp,
// else P), RLE8/RLE4, 16-bit 5-5-5 and 5-6-5, 24 and 32-bit, the bitfield layouts Pillow
// knows. Each quirk reproduced is named where it is handled.
#include <algorithm>
#include <array>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

// How the pixel bytes are laid out: Pillow's raw modes.
enum class Raw { Palette, Gray8, Bits1, BGR15, BGR16, BGR, BGRX, XBGR, ABGR, RGBA, BGRA };

// Pillow's BITFIELDS table (BmpImagePlugin.MASK_MODES): any other layout is refused there.
Raw bitfields_layout(int bits, const std::array<std::uint32_t, 4>& m, const DecodeContext& ctx) {
  const auto is = [&](std::uint32_t r, std::uint32_t g, std::uint32_t b, std::uint32_t a) {
    return m[0] == r && m[1] == g && m[2] == b && m[3] == a;
  };
  if (bits == 32) {
    if (is(0xFF0000, 0xFF00, 0xFF, 0)) return Raw::BGRX;
    if (is(0xFF000000, 0xFF0000, 0xFF00, 0)) return Raw::XBGR;
    if (is(0xFF000000, 0xFF0000, 0xFF00, 0xFF)) return Raw::ABGR;
    if (is(0xFF, 0xFF00, 0xFF0000, 0xFF000000)) return Raw::RGBA;
    if (is(0xFF0000, 0xFF00, 0xFF, 0xFF000000) || is(0, 0, 0, 0)) return Raw::BGRA;
  }
  // 24 and 16 bits: the alpha mask is not part of the comparison.
  if (bits == 24 && m[0] == 0xFF0000 && m[1] == 0xFF00 && m[2] == 0xFF) return Raw::BGR;
  if (bits == 16 && m[0] == 0xF800 && m[1] == 0x7E0 && m[2] == 0x1F) return Raw::BGR16;
  if (bits == 16 && m[0] == 0x7C00 && m[1] == 0x3E0 && m[2] == 0x1F) return Raw::BGR15;
  ctx.fail("unsupported BMP bitfields layout (the reference, Pillow 9.4, refuses it too)");
}

// Pillow 9.4's BmpRleDecoder, quirks kept, as they decide where pixels land: a run that
// passes the row's end is clipped, an absolute run is not (it spills into the next row); a
// delta reads two bytes, ignores them and uses the two after; an odd RLE4 absolute run loses
// its last pixel; the word alignment after an absolute run counts from the file's start.
// Returns the indices, rows in file order; fewer than width*height is a truncated file.
std::vector<std::uint8_t> rle_indices(Bytes d, std::size_t at, std::size_t width, std::size_t height, bool rle4) {
  std::vector<std::uint8_t> out;
  const std::size_t want = width * height;
  const auto read = [&](std::size_t n) {
    const std::size_t got = at < d.size() ? std::min(n, d.size() - at) : 0;
    const std::size_t from = at;
    at += got;
    return Bytes(d.data() + from, got);
  };
  std::size_t x = 0;
  while (out.size() < want) {
    const Bytes head = read(2);
    if (head.size() < 2) break;
    std::size_t count = head[0];
    const std::uint8_t value = head[1];
    if (count) {  // encoded run
      if (x + count > width) count = x < width ? width - x : 0;
      for (std::size_t i = 0; i < count; ++i)
        out.push_back(rle4 ? static_cast<std::uint8_t>(i % 2 ? value & 0x0F : value >> 4) : value);
      x += count;
    } else if (value == 0) {  // end of line: the row filled with index 0
      while (out.size() % width) out.push_back(0);
      x = 0;
    } else if (value == 1) {  // end of bitmap
      break;
    } else if (value == 2) {  // delta
      if (read(2).size() < 2) break;
      const Bytes move = read(2);
      if (move.size() < 2) return {};  // Pillow: an unpacking error
      // Zeros past the image's end are never read: not stored either.
      const std::size_t skip = move[0] + static_cast<std::size_t>(move[1]) * width;
      out.insert(out.end(), std::min(skip, want - out.size()), 0);
      x = out.size() % width;
    } else {  // absolute run of `value` pixels
      const std::size_t bytes = rle4 ? value / 2 : value;
      const Bytes run = read(bytes);
      for (const std::uint8_t b : run) {
        if (rle4) {
          out.push_back(b >> 4);
          out.push_back(b & 0x0F);
        } else {
          out.push_back(b);
        }
      }
      if (run.size() < bytes) break;
      x += value;
      if (at % 2) read(1);
    }
  }
  return out;
}

}  // namespace

Image decode_dib(Bytes d, std::size_t info, std::size_t offset, const DibLayout& layout, const DecodeContext& ctx,
                 std::size_t* pixels_at) {
  if (d.size() < info + 4) ctx.fail("truncated BMP header");
  const std::uint32_t header_size = le32(d, info);
  if (header_size != 12 && header_size != 40 && header_size != 64 && header_size != 108 && header_size != 124)
    ctx.fail("unsupported BMP header size " + std::to_string(header_size));
  if (d.size() < info + header_size) ctx.fail("truncated BMP header");
  std::int64_t width, height;
  int bits;
  std::uint32_t compression = 0, colors = 0;
  bool top_down = false;
  std::size_t after_header = info + header_size;
  std::array<std::uint32_t, 4> masks{};
  if (header_size == 12) {  // OS/2 1.x: unsigned 16-bit sizes, always bottom-up
    width = le16(d, info + 4);
    height = le16(d, info + 6);
    bits = le16(d, info + 10);
  } else {
    // Pillow takes a height whose top byte is 0xFF as top-down (2^32 - h), any other as
    // an unsigned bottom-up height.
    top_down = d[info + 11] == 0xFF;
    width = le32(d, info + 4);
    height = top_down ? (std::int64_t{1} << 32) - le32(d, info + 8) : le32(d, info + 8);
    bits = le16(d, info + 14);
    compression = le32(d, info + 16);
    colors = le32(d, info + 32);
    if (compression == 3) {
      if (header_size >= 56) {
        for (int i = 0; i < 4; ++i) masks[i] = le32(d, info + 40 + 4 * i);
      } else {  // a 40-byte header: three masks follow it, no alpha
        if (d.size() < after_header + 12) ctx.fail("truncated BMP colour masks");
        for (int i = 0; i < 3; ++i) masks[i] = le32(d, after_header + 4 * i);
        after_header += 12;
      }
    }
  }
  if (!colors) colors = bits < 32 ? 1u << bits : 0;
  // A pixel offset that points just past a file header and the info header, where the
  // palette is, is taken to mean "after the palette" (always 4 bytes per entry, as Pillow
  // counts it; 14 even for a bitmap inside an icon, where the offset is 0).
  if (offset == 14 + header_size && bits <= 8) offset += 4 * static_cast<std::size_t>(colors);
  if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
    ctx.fail("unsupported BMP bit depth " + std::to_string(bits));
  ctx.check_size(width, height);
  if (layout.halve_height) height /= 2;  // ICO/CUR: the AND mask's rows follow
  if (height == 0) ctx.fail("an icon bitmap of one row");

  Raw raw = bits <= 8 ? Raw::Palette : bits == 16 ? Raw::BGR15 : bits == 24 ? Raw::BGR : Raw::BGRX;
  if (bits == 32 && layout.bgra) raw = Raw::BGRA;
  const bool rle = compression == 1 || compression == 2;
  if (compression == 3)
    raw = bitfields_layout(bits, masks, ctx);
  else if (rle && bits > 8)
    ctx.fail("BMP RLE compression with " + std::to_string(bits) + "-bit pixels (the reference fails on it too)");
  else if (compression != 0 && !rle)
    ctx.fail("unsupported BMP compression " + std::to_string(compression) + " (embedded JPEG/PNG are not supported)");

  ImageMode mode = raw == Raw::ABGR || raw == Raw::RGBA || raw == Raw::BGRA ? ImageMode::RGBA : ImageMode::RGB;
  std::vector<std::array<std::uint8_t, 3>> palette;
  if (raw == Raw::Palette) {
    // Pillow compares entries 0..colors-1 with the gray ramp (0 and 255 for two colours);
    // past 256 entries that comparison itself fails, so the file does not open.
    if (colors > 256) ctx.fail("BMP palette of " + std::to_string(colors) + " colours (at most 256)");
    const std::size_t entry = header_size == 12 ? 3 : 4;
    if (after_header + entry * colors > d.size()) ctx.fail("truncated BMP palette");
    bool gray = true;
    for (std::uint32_t i = 0; i < colors; ++i) {
      const std::uint8_t* p = d.data() + after_header + i * entry;
      palette.push_back({p[2], p[1], p[0]});
      const unsigned expect = colors == 2 ? i * 255 : i;
      gray = gray && p[0] == expect && p[1] == expect && p[2] == expect;
    }
    if (offset == 0) offset = after_header + entry * colors;  // Pillow: "offset or fp.tell()"
    if (gray) {
      // A gray palette is dropped and the bytes read with the raw mode of the image mode:
      // "1" unpacks one bit per pixel and "L" one byte per pixel, whatever `bits` says.
      mode = colors == 2 ? ImageMode::One : ImageMode::L;
      raw = colors == 2 ? Raw::Bits1 : Raw::Gray8;
      if (rle && mode == ImageMode::One) ctx.fail("RLE-compressed two-colour gray BMP (the reference fails on it too)");
    } else {
      mode = ImageMode::P;
      pad_palette_with_gray_ramp(palette);
    }
  } else if (offset == 0) {
    offset = after_header;
  }
  if (pixels_at) *pixels_at = offset;
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  Image image(mode, w, h);
  if (mode == ImageMode::P) image.palette() = std::move(palette);
  auto px = image.pixels();
  const auto out_row = [&](std::size_t file_row) {
    const std::size_t y = top_down ? file_row : static_cast<std::size_t>(h) - 1 - file_row;
    return px.data() + y * w * image.bands();
  };

  if (rle) {
    const std::vector<std::uint8_t> indices = rle_indices(d, offset, w, h, compression == 2);
    if (indices.size() < static_cast<std::size_t>(w) * h) ctx.fail("truncated or corrupt BMP RLE data");
    for (int r = 0; r < h; ++r) std::copy_n(indices.data() + static_cast<std::size_t>(r) * w, w, out_row(r));
    image.set_format("BMP");
    return image;
  }

  // Pillow's raw decoder: rows of `stride` bytes, of which the raw mode's bytes are read.
  const std::size_t stride = ((static_cast<std::size_t>(width) * bits + 31) >> 3) & ~std::size_t{3};
  if (offset > d.size() || stride * static_cast<std::size_t>(height) > d.size() - offset)
    ctx.fail("truncated BMP pixel data");
  for (int r = 0; r < h; ++r) {
    const std::uint8_t* in = d.data() + offset + static_cast<std::size_t>(r) * stride;
    std::uint8_t* out = out_row(r);
    for (int x = 0; x < w; ++x) {
      switch (raw) {
        case Raw::Palette: {
          const std::size_t bit = static_cast<std::size_t>(x) * bits;
          out[x] = static_cast<std::uint8_t>((in[bit / 8] >> (8 - bits - bit % 8)) & ((1u << bits) - 1));
          break;
        }
        case Raw::Gray8: {
          // With 1 or 4-bit pixels under a gray palette, Pillow reads a byte per pixel
          // from each row's start: rows overlap, the last one runs past the pixel data
          // (bytes past the file's end read as 0, as measured with Pillow 9.4).
          const std::size_t at = offset + static_cast<std::size_t>(r) * stride + x;
          out[x] = at < d.size() ? d[at] : 0;
          break;
        }
        case Raw::Bits1: out[x] = (in[x / 8] >> (7 - x % 8)) & 1 ? 255 : 0; break;
        case Raw::BGR15:
        case Raw::BGR16: {
          // Pillow's BGR;15 and BGR;16 unpackers: value * 255 / max, rounded down.
          const unsigned v = le16(Bytes(in, stride), 2 * static_cast<std::size_t>(x));
          std::uint8_t* o = out + 3 * x;
          if (raw == Raw::BGR15) {
            o[0] = static_cast<std::uint8_t>(((v >> 10) & 31) * 255 / 31);
            o[1] = static_cast<std::uint8_t>(((v >> 5) & 31) * 255 / 31);
          } else {
            o[0] = static_cast<std::uint8_t>(((v >> 11) & 31) * 255 / 31);
            o[1] = static_cast<std::uint8_t>(((v >> 5) & 63) * 255 / 63);
          }
          o[2] = static_cast<std::uint8_t>((v & 31) * 255 / 31);
          break;
        }
        case Raw::BGR: out[3 * x] = in[3 * x + 2], out[3 * x + 1] = in[3 * x + 1], out[3 * x + 2] = in[3 * x]; break;
        default: {  // the 32-bit layouts: which byte holds R, G, B (and A)
          const std::uint8_t* p = in + 4 * x;
          static constexpr int kOrder[][4] = {
              {2, 1, 0, -1},  // BGRX
              {3, 2, 1, -1},  // XBGR
              {3, 2, 1, 0},   // ABGR
              {0, 1, 2, 3},   // RGBA
              {2, 1, 0, 3},   // BGRA
          };
          const int* order = kOrder[static_cast<int>(raw) - static_cast<int>(Raw::BGRX)];
          const int bands = mode == ImageMode::RGBA ? 4 : 3;
          for (int c = 0; c < bands; ++c) out[bands * x + c] = p[order[c]];
        }
      }
    }
  }
  image.set_format("BMP");
  return image;
}

Image decode_bmp(Bytes d, const DecodeContext& ctx) {
  if (d.size() < 14) ctx.fail("truncated BMP header");
  return decode_dib(d, 14, le32(d, 10), {}, ctx);
}

}  // namespace clip::image
