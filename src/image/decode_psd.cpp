// PSD (Photoshop) by Pillow 9.4's PsdImagePlugin: the merged (composite) image of an 8-bit
// (or 1-bit bitmap) file, raw or PackBits, with Pillow's modes and its quirks: bitmaps read
// with 1 as white, CMYK channels inverted, a palette only from a 768-byte colour table, and
// the layer records parsed (and failed on) as Pillow parses them, though never drawn.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

// Reads forward through `d` as Pillow's file reads do; a short read is Pillow's failure.
struct Cursor {
  Bytes d;
  std::size_t pos;
  const DecodeContext& ctx;

  Bytes take(std::size_t n, const char* what) {
    if (n > d.size() - std::min(pos, d.size())) ctx.fail(std::string("truncated PSD (") + what + ")");
    const Bytes out = d.subspan(pos, n);
    pos += n;
    return out;
  }
  std::uint32_t u8(const char* what) { return take(1, what)[0]; }
  std::uint32_t u16(const char* what) { return be16(take(2, what), 0); }
  std::uint32_t u32(const char* what) { return be32(take(4, what), 0); }
};

// A relative seek in the layer block, as BytesIO.seek: before the start is an error.
void seek(Cursor& c, std::int64_t by) {
  const std::int64_t to = static_cast<std::int64_t>(c.pos) + by;
  if (to < 0) c.ctx.fail("corrupt PSD layer record (a seek before the start; the reference fails too)");
  c.pos = static_cast<std::size_t>(to);
}

// PsdImagePlugin._layerinfo: each layer's record and channel tiles are read (never drawn);
// what makes Pillow fail makes us fail.
void check_layers(Bytes block, const DecodeContext& ctx) {
  Cursor c{block, 0, ctx};
  const int count = std::abs(static_cast<std::int16_t>(c.u16("layer count")));
  if (block.size() < static_cast<std::size_t>(count) * 20)
    ctx.fail("PSD layer block too short for its number of layers (the reference fails too)");
  struct Layer {
    std::int32_t x0, y0, x1, y1;
    int channels;
  };
  std::vector<Layer> layers;
  for (int i = 0; i < count; ++i) {
    Layer l{};
    l.y0 = static_cast<std::int32_t>(c.u32("layer bounds"));
    l.x0 = static_cast<std::int32_t>(c.u32("layer bounds"));
    l.y1 = static_cast<std::int32_t>(c.u32("layer bounds"));
    l.x1 = static_cast<std::int32_t>(c.u32("layer bounds"));
    const int channels = static_cast<int>(c.u16("layer channels"));
    if (channels > 4) continue;  // Pillow skips the record's rest, and reads on from here
    std::string kinds;
    for (int k = 0; k < channels; ++k) {
      const std::uint32_t type = c.u16("layer channel");
      if (type != 65535 && type > 3)
        ctx.fail("PSD layer channel " + std::to_string(type) + ": the reference fails on it");
      kinds += type == 65535 ? 'A' : "RGBA"[type];
      c.u32("layer channel");
    }
    std::sort(kinds.begin(), kinds.end());
    if (kinds != "R" && kinds != "BGR" && kinds != "ABGR")
      ctx.fail("PSD layer of channels '" + kinds + "': the reference (Pillow 9.4) cannot read it either");
    l.channels = channels;
    c.take(12, "layer filler");
    if (const std::uint32_t size = c.u32("layer extra data")) {
      const std::size_t end = c.pos + size;
      if (const std::uint32_t mask = c.u32("layer mask")) seek(c, std::int64_t{mask} - 16);  // Pillow's quirk
      if (const std::uint32_t blending = c.u32("layer blending ranges")) c.pos += blending;
      if (const std::uint32_t name = c.u8("layer name")) c.take(name, "layer name");
      c.pos = end;
    }
    layers.push_back(l);
  }
  for (const Layer& l : layers) {
    const std::int64_t rows = std::int64_t{l.y1} - l.y0, cols = std::int64_t{l.x1} - l.x0;
    for (int k = 0; k < l.channels; ++k) {
      const std::uint32_t compression = c.u16("layer channel compression");
      if (compression == 0) {
        // Bounds may be upside down: Pillow steps back, and fails before the start. (The
        // product of two 33-bit values, held to +-2^62: far outside any file either way.)
        const __int128 step = static_cast<__int128>(cols) * rows, limit = __int128{1} << 62;
        seek(c, static_cast<std::int64_t>(std::clamp(step, -limit, limit)));
      } else if (compression == 1 && rows <= 0) {
        c.pos = std::max(c.pos, block.size());  // Pillow's read(negative) reads to the end
      } else if (compression == 1) {
        const Bytes counts = c.take(static_cast<std::size_t>(rows) * 2, "layer row sizes");
        for (std::int64_t y = 0; y < rows; ++y) c.pos += be16(counts, 2 * y);
      }
      if (c.pos & 1) ++c.pos;  // padding, read without a check
    }
  }
}

// Pillow's PackBits decoder: packets fill one row at a time; a run past the row's end is cut.
bool unpack_bits(Cursor& c, std::uint8_t* out, std::size_t row_bytes, std::size_t rows) {
  std::size_t x = 0, y = 0;
  while (y < rows) {
    if (c.pos >= c.d.size()) return false;
    const std::uint8_t head = c.d[c.pos];
    if (head == 0x80) {
      ++c.pos;
      continue;
    }
    if (head & 0x80) {
      if (c.pos + 2 > c.d.size()) return false;
      for (int n = 257 - head; n > 0 && x < row_bytes; --n) out[y * row_bytes + x++] = c.d[c.pos + 1];
      c.pos += 2;
    } else {
      const std::size_t n = head + 1u;
      if (c.pos + 1 + n > c.d.size()) return false;
      for (std::size_t i = 0; i < n && x < row_bytes; ++i) out[y * row_bytes + x++] = c.d[c.pos + 1 + i];
      c.pos += 1 + n;
    }
    if (x >= row_bytes) x = 0, ++y;
  }
  return true;
}

}  // namespace

Image decode_psd(Bytes data, const DecodeContext& ctx) {
  Cursor c{data, 0, ctx};
  const Bytes header = c.take(26, "header");
  if (be16(header, 4) != 1)
    ctx.fail("not a PSD file (version " + std::to_string(be16(header, 4)) + "; PSB is not read)");
  const int psd_channels = be16(header, 12), bits = be16(header, 22), colour_mode = be16(header, 24);
  const std::uint32_t height = be32(header, 14), width = be32(header, 18);
  // PsdImagePlugin.MODES: (colour mode, bits) -> mode, channels read.
  ImageMode mode;
  int channels = 1;
  if (colour_mode == 0 && bits == 1)
    mode = ImageMode::One;
  else if (bits != 8 || colour_mode == 5 || colour_mode == 6 || colour_mode > 9)
    ctx.fail("a PSD of colour mode " + std::to_string(colour_mode) + " and " + std::to_string(bits) +
             " bits: the reference (Pillow 9.4) cannot read it either");
  else if (colour_mode == 2)
    mode = ImageMode::P;
  else if (colour_mode == 3)
    mode = psd_channels == 4 ? ImageMode::RGBA : ImageMode::RGB, channels = psd_channels == 4 ? 4 : 3;
  else if (colour_mode == 4)
    mode = ImageMode::CMYK, channels = 4;
  else if (colour_mode == 9)
    mode = ImageMode::LAB, channels = 3;  // bytes as stored: rawmodes "L", "A", "B" copy them
  else
    mode = ImageMode::L;  // 0 (8-bit bitmap), 1 gray, 7 multichannel, 8 duotone
  if (channels > psd_channels) ctx.fail("PSD with fewer channels than its colour mode needs");
  ctx.check_size(width, height);

  Image image(mode, static_cast<int>(width), static_cast<int>(height));
  const Bytes colour_data = c.take(c.u32("colour mode data"), "colour mode data");
  if (mode == ImageMode::P) {
    // Pillow's "RGB;L": 256 reds, then greens, then blues; without it, a P image's own gray ramp.
    for (int i = 0; i < 256; ++i)
      image.palette().push_back(
          colour_data.size() == 768
              ? std::array<std::uint8_t, 3>{colour_data[i], colour_data[256 + i], colour_data[512 + i]}
              : std::array<std::uint8_t, 3>{static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i),
                                            static_cast<std::uint8_t>(i)});
  }
  c.take(c.u32("image resources"), "image resources");  // Pillow walks them; nothing there changes the pixels
  if (const std::uint32_t size = c.u32("layer and mask information")) {
    const std::size_t end = c.pos + size;
    if (const std::uint32_t layers = c.u32("layer information")) check_layers(c.take(layers, "layer information"), ctx);
    c.pos = end;
  }

  // The merged image: one plane per channel, each through its own decoder from its offset.
  const std::uint32_t compression = c.u16("image data compression");
  if (compression > 1) ctx.fail("PSD image data compressed with method " + std::to_string(compression) + " (not read)");
  const std::size_t row_bytes = mode == ImageMode::One ? (width + 7) / 8 : width;
  std::vector<std::uint8_t> plane(row_bytes * height);
  std::size_t offset = c.pos;
  Bytes counts;
  if (compression == 1) {
    counts = c.take(std::size_t{2} * channels * height, "row sizes");
    offset = c.pos;
  }
  const int bands = image.bands();
  auto px = image.pixels();
  for (int ch = 0; ch < channels; ++ch) {
    Cursor in{data, offset, ctx};
    if (compression == 0) {
      if (!(offset <= data.size() && plane.size() <= data.size() - offset)) ctx.fail("truncated PSD image data");
      std::memcpy(plane.data(), data.data() + offset, plane.size());
      offset += static_cast<std::size_t>(width) * height;  // Pillow's step, even for 1-bit rows
    } else {
      if (!unpack_bits(in, plane.data(), row_bytes, height)) ctx.fail("truncated PSD image data");
      for (std::uint32_t y = 0; y < height; ++y)
        offset += be16(counts, 2 * (static_cast<std::size_t>(ch) * height + y));
    }
    for (std::uint32_t y = 0; y < height; ++y)
      for (std::uint32_t x = 0; x < width; ++x) {
        const std::size_t i = static_cast<std::size_t>(y) * width + x;
        std::uint8_t v = plane[y * row_bytes + (mode == ImageMode::One ? x / 8 : x)];
        if (mode == ImageMode::One) v = (v >> (7 - x % 8)) & 1 ? 255 : 0;     // rawmode "1": set bits are white
        if (mode == ImageMode::CMYK) v = static_cast<std::uint8_t>(255 - v);  // rawmode "C;I" ...
        px[i * bands + ch] = v;
      }
  }
  image.set_format("PSD");
  return image;
}

}  // namespace clip::image
