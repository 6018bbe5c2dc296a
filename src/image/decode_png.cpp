// PNG, decoded by hand on libdeflate, giving the samples Pillow's own PNG decoder gives:
// 16-bit gray as mode I, other 16-bit images cut to their high byte, 16-bit gray+alpha as
// RGBA, palettes as mode P, 1-bit gray as mode 1; tRNS and colour chunks are ignored.
// libpng was measured at twice Pillow's decode time on CLIP.png (zlib inflate and row
// copies); libdeflate inflates into the image buffer directly.
#include <libdeflate.h>

#include <array>
#include <cstring>
#include <memory>

#include "image/decoders.h"

namespace clip::image {
namespace {

struct Header {
  std::uint32_t width = 0, height = 0;
  int depth = 0, color = 0;
  bool interlaced = false;
  int channels() const { return color == 0 ? 1 : color == 2 ? 3 : color == 3 ? 1 : color == 4 ? 2 : 4; }
  int bits_per_pixel() const { return depth * channels(); }
  std::size_t row_bytes(std::uint32_t w) const { return (static_cast<std::size_t>(w) * bits_per_pixel() + 7) / 8; }
  int filter_step() const { return std::max(1, bits_per_pixel() / 8); }  // bytes to the left neighbour
};

bool valid_depth(int color, int depth) {
  switch (color) {
    case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6: return depth == 8 || depth == 16;
    default: return false;
  }
}

ImageMode mode_of(const Header& h) {
  switch (h.color) {
    case 0: return h.depth == 1 ? ImageMode::One : h.depth == 16 ? ImageMode::I : ImageMode::L;
    case 2: return ImageMode::RGB;
    case 3: return ImageMode::P;
    case 4: return h.depth == 16 ? ImageMode::RGBA : ImageMode::LA;
    default: return ImageMode::RGBA;
  }
}

inline std::uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return static_cast<std::uint8_t>(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Undoes one row's filter in place; `prev` is the previous unfiltered row (or nullptr).
bool unfilter(int type, std::uint8_t* row, const std::uint8_t* prev, std::size_t n, int step) {
  switch (type) {
    case 0: return true;
    case 1:
      for (std::size_t i = step; i < n; ++i) row[i] = static_cast<std::uint8_t>(row[i] + row[i - step]);
      return true;
    case 2:
      if (prev)
        for (std::size_t i = 0; i < n; ++i) row[i] = static_cast<std::uint8_t>(row[i] + prev[i]);
      return true;
    case 3:
      for (std::size_t i = 0; i < n; ++i) {
        const int left = i >= static_cast<std::size_t>(step) ? row[i - step] : 0, up = prev ? prev[i] : 0;
        row[i] = static_cast<std::uint8_t>(row[i] + ((left + up) >> 1));
      }
      return true;
    case 4:
      for (std::size_t i = 0; i < n; ++i) {
        const bool has_left = i >= static_cast<std::size_t>(step);
        const int left = has_left ? row[i - step] : 0, up = prev ? prev[i] : 0;
        const int up_left = has_left && prev ? prev[i - step] : 0;
        row[i] = static_cast<std::uint8_t>(row[i] + paeth(left, up, up_left));
      }
      return true;
    default: return false;
  }
}

// Writes `count` pixels of one unfiltered row to image row y, columns x0, x0+dx, ...
void emit_row(const Header& h, const std::uint8_t* raw, std::uint32_t count, std::uint32_t y, std::uint32_t x0,
              std::uint32_t dx, Image& image) {
  const std::size_t width = image.width();
  const int bands = image.bands();
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t at = static_cast<std::size_t>(y) * width + x0 + static_cast<std::size_t>(i) * dx;
    if (h.depth < 8) {  // gray or palette, MSB first
      const std::size_t bit = static_cast<std::size_t>(i) * h.depth;
      const int v = (raw[bit / 8] >> (8 - h.depth - bit % 8)) & ((1 << h.depth) - 1);
      image.pixels()[at] = static_cast<std::uint8_t>(h.color == 3 ? v : v * (255 / ((1 << h.depth) - 1)));
    } else if (h.depth == 16 && h.color == 0) {
      image.wide_pixels()[at] = (raw[2 * i] << 8) | raw[2 * i + 1];
    } else if (h.depth == 16 && h.color == 4) {  // high bytes, gray copied into R, G, B
      std::uint8_t* out = &image.pixels()[at * 4];
      out[0] = out[1] = out[2] = raw[4 * i];
      out[3] = raw[4 * i + 2];
    } else {
      const int sample = h.depth / 8;  // 16-bit samples keep their high byte
      for (int b = 0; b < bands; ++b)
        image.pixels()[at * bands + b] = raw[(static_cast<std::size_t>(i) * bands + b) * sample];
    }
  }
}

struct Pass {
  std::uint32_t x0, y0, dx, dy;
};
constexpr std::array<Pass, 7> kAdam7{
    {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}};

}  // namespace

Image decode_png(Bytes data, const DecodeContext& ctx) {
  Header h;
  std::vector<std::array<std::uint8_t, 3>> palette;
  std::vector<std::uint8_t> compressed;
  int orientation = 1;
  bool ended = false;
  std::size_t pos = 8;  // after the signature, which Image::decode has seen (the fuzz target has not)
  if (data.size() < pos) ctx.fail("truncated PNG signature");
  while (!ended) {
    if (data.size() - pos < 12) ctx.fail("truncated PNG (no IEND chunk)");
    const std::uint32_t length = be32(data, pos);
    const std::uint8_t* type = &data[pos + 4];
    if (length > data.size() - pos - 12) ctx.fail("truncated PNG chunk");
    const std::uint8_t* body = type + 4;
    if (libdeflate_crc32(0, type, length + 4) != be32(data, pos + 8 + length))
      ctx.fail("CRC error in chunk " + std::string(reinterpret_cast<const char*>(type), 4));
    const std::string_view name(reinterpret_cast<const char*>(type), 4);
    if (pos == 8 && name != "IHDR") ctx.fail("PNG does not start with IHDR");
    if (name == "IHDR") {
      if (length != 13) ctx.fail("bad IHDR chunk");
      h.width = be32(data, pos + 8);
      h.height = be32(data, pos + 12);
      h.depth = body[8];
      h.color = body[9];
      h.interlaced = body[12] == 1;
      if (!valid_depth(h.color, h.depth) || body[10] != 0 || body[11] != 0 || body[12] > 1)
        ctx.fail("unsupported PNG header (colour type " + std::to_string(h.color) + ", depth " +
                 std::to_string(h.depth) + ")");
      ctx.check_size(h.width, h.height);
    } else if (name == "PLTE") {
      if (length % 3 != 0 || length > 768) ctx.fail("bad PLTE chunk");
      for (std::uint32_t i = 0; i < length; i += 3) palette.push_back({body[i], body[i + 1], body[i + 2]});
    } else if (name == "IDAT") {
      compressed.insert(compressed.end(), body, body + length);
    } else if (name == "eXIf") {
      if (ctx.options.apply_exif_orientation) orientation = exif_orientation(Bytes(body, length));
    } else if (name == "IEND") {
      ended = true;
    }
    pos += 12 + static_cast<std::size_t>(length);
  }
  if (h.width == 0) ctx.fail("PNG without IHDR");
  if (h.color == 3 && palette.empty()) ctx.fail("palette PNG without PLTE");

  // The filtered rows of every pass, one filter byte before each row.
  std::size_t raw_size = 0;
  for (const Pass& p :
       h.interlaced ? std::vector<Pass>(kAdam7.begin(), kAdam7.end()) : std::vector<Pass>{{0, 0, 1, 1}}) {
    const std::uint32_t pw = (h.width - p.x0 + p.dx - 1) / p.dx, ph = (h.height - p.y0 + p.dy - 1) / p.dy;
    if (pw && ph) raw_size += static_cast<std::size_t>(ph) * (1 + h.row_bytes(pw));
  }
  // Deflate expands at most 1032:1; a larger claim is a truncated or hostile file, refused
  // before the memory for it is taken.
  if (raw_size / 1032 > compressed.size() + 1) ctx.fail("truncated PNG image data");
  std::vector<std::uint8_t> raw(raw_size);
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> inflater(libdeflate_alloc_decompressor(),
                                                                                        libdeflate_free_decompressor);
  if (!inflater) ctx.fail("out of memory");
  if (libdeflate_zlib_decompress(inflater.get(), compressed.data(), compressed.size(), raw.data(), raw_size, nullptr) !=
      LIBDEFLATE_SUCCESS)
    ctx.fail("corrupt or truncated PNG image data");

  const int step = h.filter_step();
  const ImageMode mode = mode_of(h);
  Image image;
  if (!h.interlaced && h.depth == 8) {
    // The rows are the image's own bytes: unfilter them and close up the filter-byte gaps in
    // the same buffer, which then becomes the image.
    const std::size_t n = h.row_bytes(h.width);
    for (std::uint32_t y = 0; y < h.height; ++y) {
      const int filter = raw[y * (n + 1)];
      std::uint8_t* row = raw.data() + static_cast<std::size_t>(y) * n;
      std::memmove(row, row + y + 1, n);
      if (!unfilter(filter, row, y ? row - n : nullptr, n, step))
        ctx.fail("bad PNG row filter " + std::to_string(filter));
    }
    raw.resize(static_cast<std::size_t>(h.height) * n);
    image = Image::from_pixels(mode, static_cast<int>(h.width), static_cast<int>(h.height), std::move(raw));
  } else {
    image = Image(mode, static_cast<int>(h.width), static_cast<int>(h.height));
    std::uint8_t* cursor = raw.data();
    for (const Pass& p :
         h.interlaced ? std::vector<Pass>(kAdam7.begin(), kAdam7.end()) : std::vector<Pass>{{0, 0, 1, 1}}) {
      const std::uint32_t pw = (h.width - p.x0 + p.dx - 1) / p.dx, ph = (h.height - p.y0 + p.dy - 1) / p.dy;
      if (!pw || !ph) continue;
      const std::size_t n = h.row_bytes(pw);
      const std::uint8_t* prev = nullptr;
      for (std::uint32_t r = 0; r < ph; ++r, cursor += n + 1) {
        std::uint8_t* row = cursor + 1;
        if (!unfilter(cursor[0], row, prev, n, step)) ctx.fail("bad PNG row filter " + std::to_string(cursor[0]));
        emit_row(h, row, pw, p.y0 + r * p.dy, p.x0, p.dx, image);
        prev = row;
      }
    }
  }
  if (h.color == 3) image.palette() = palette;
  image.set_format("PNG");
  if (orientation != 1) image = apply_orientation(image, orientation);
  return image;
}

}  // namespace clip::image
