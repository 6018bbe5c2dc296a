// ICO and CUR, with the rules of Pillow 9.4's IcoImagePlugin and CurImagePlugin: which
// entry is opened (ICO: the largest, ties by colour depth, then the last; CUR: the first
// strictly wider and taller one), PNG or bitmap entries, and an ICO bitmap's transparency
// (the AND mask, or the fourth byte of 32-bit pixels) as alpha. The bitmaps themselves are
// read by decode_dib, Pillow's BMP rules.
#include <algorithm>
#include <cmath>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

// The directory's entries, each 16 bytes after the 6-byte header.
std::size_t entry_count(Bytes d, const DecodeContext& ctx) {
  if (!is_icon_directory(d)) ctx.fail("an icon file without images, or its directory cut short");
  return le16(d, 4);
}

}  // namespace

bool is_icon_directory(Bytes d) {
  return d.size() >= 6 && le16(d, 4) > 0 && d.size() >= 6 + 16 * std::size_t{le16(d, 4)};
}

Image decode_ico(Bytes d, const DecodeContext& ctx) {
  struct Entry {
    int width, height, bpp, color_depth;
    std::uint32_t size, offset;
  };
  const std::size_t n = entry_count(d, ctx);
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = 6 + 16 * i;
    Entry e{d[at] ? d[at] : 256, d[at + 1] ? d[at + 1] : 256, le16(d, at + 6), 0, le32(d, at + 8), le32(d, at + 12)};
    // bpp, else ceil(log2(colours)) (Python's math.log(n, 2)), and 256 where that is 0.
    const int colors = d[at + 2];
    e.color_depth = e.bpp ? e.bpp : colors ? static_cast<int>(std::ceil(std::log(colors) / std::log(2.0))) : 0;
    if (!e.color_depth) e.color_depth = 256;
    entries.push_back(e);
  }
  // Pillow sorts by colour depth, then (stably) by area, and takes the last: the largest.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.color_depth < b.color_depth; });
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.width * a.height < b.width * b.height; });
  const Entry& e = entries.back();
  if (e.offset > d.size()) ctx.fail("icon image offset past the end of the file");

  static constexpr std::uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (d.size() - e.offset >= 8 && std::equal(kPng, kPng + 8, d.begin() + e.offset)) {
    Image png = decode_png(d.subspan(e.offset), ctx);
    png.set_format("ICO");
    return png;
  }
  std::size_t pixels_at = 0;
  const Image xor_image = decode_dib(d, e.offset, 0, {.halve_height = true}, ctx, &pixels_at);
  const int w = xor_image.width(), h = xor_image.height();
  // The alpha band, rows bottom-up as stored: the fourth byte of each 32-bit pixel (when the
  // directory says 32 bits), else the AND mask (1 = transparent), rows padded to 32 bits,
  // found by counting back from the entry's end as the directory gives it.
  std::vector<std::uint8_t> alpha(static_cast<std::size_t>(w) * h);
  if (e.bpp == 32) {
    if (d.size() - pixels_at < alpha.size() * 4) ctx.fail("not enough image data for the icon's alpha");
    for (int r = 0; r < h; ++r)
      for (int x = 0; x < w; ++x)
        alpha[static_cast<std::size_t>(h - 1 - r) * w + x] =
            d[pixels_at + (static_cast<std::size_t>(r) * w + x) * 4 + 3];
  } else {
    const std::size_t row = (static_cast<std::size_t>(w) + 31) / 32 * 4, total = row * h;
    const std::size_t end = static_cast<std::size_t>(e.offset) + e.size;
    if (end < total || end > d.size()) ctx.fail("the icon's AND mask lies outside the file");
    const std::size_t mask_at = end - total;
    for (int r = 0; r < h; ++r)
      for (int x = 0; x < w; ++x)
        alpha[static_cast<std::size_t>(h - 1 - r) * w + x] =
            (d[mask_at + r * row + x / 8] >> (7 - x % 8)) & 1 ? 0 : 255;
  }
  // convert("RGBA") of the bitmap, then putalpha.
  const Image rgb = xor_image.to_rgb();
  Image out(ImageMode::RGBA, w, h);
  for (std::size_t i = 0; i < alpha.size(); ++i) {
    std::copy_n(rgb.pixels().data() + 3 * i, 3, out.pixels().data() + 4 * i);
    out.pixels()[4 * i + 3] = alpha[i];
  }
  out.set_format("ICO");
  return out;
}

Image decode_cur(Bytes d, const DecodeContext& ctx) {
  const std::size_t n = entry_count(d, ctx);
  std::size_t chosen = 6;
  for (std::size_t i = 1; i < n; ++i) {
    const std::size_t at = 6 + 16 * i;
    if (d[at] > d[chosen] && d[at + 1] > d[chosen + 1]) chosen = at;  // 0 counts as 0 here, not 256
  }
  const std::size_t info = le32(d, chosen + 12);
  if (info > d.size()) ctx.fail("cursor image offset past the end of the file");
  Image image = decode_dib(d, info, 0, {.halve_height = true, .bgra = info == 22}, ctx);
  image.set_format("CUR");
  return image;
}

}  // namespace clip::image
