// TIFF (and little-endian BigTIFF) through libtiff, unpacked as Pillow 9.4's TiffImagePlugin
// does: its modes (1, L, LA, P, PA, I;16, I, F, RGB, RGBA, CMYK), the high byte of 16-bit colour,
// premultiplied alpha undone, CIELab as mode LAB, separate planes and uncompressed YCbCr by its
// own rules, the Orientation tag applied; compressed YCbCr through libtiff's RGBA interface.
#include <tiffio.h>

#include <algorithm>
#include <bit>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

struct Reader {
  Bytes data;
  toff_t pos = 0;
};

tmsize_t read_proc(thandle_t h, void* buf, tmsize_t size) {
  auto* r = static_cast<Reader*>(h);
  if (r->pos >= r->data.size()) return 0;
  const tmsize_t n = std::min<tmsize_t>(size, static_cast<tmsize_t>(r->data.size() - r->pos));
  std::memcpy(buf, r->data.data() + r->pos, static_cast<std::size_t>(n));
  r->pos += static_cast<toff_t>(n);
  return n;
}
tmsize_t write_proc(thandle_t, void*, tmsize_t) { return 0; }
toff_t seek_proc(thandle_t h, toff_t off, int whence) {
  auto* r = static_cast<Reader*>(h);
  const toff_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? r->pos : r->data.size();
  r->pos = base + off;
  return r->pos;
}
int close_proc(thandle_t) { return 0; }
toff_t size_proc(thandle_t h) { return static_cast<Reader*>(h)->data.size(); }
int map_proc(thandle_t, void**, toff_t*) { return 0; }
void unmap_proc(thandle_t, void*, toff_t) {}

// libtiff reports through global handlers; keep the last message of this thread.
thread_local char last_error[256];
void on_error(const char* module, const char* fmt, va_list ap) {
  char msg[200];
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  std::snprintf(last_error, sizeof last_error, "%s: %s", module ? module : "libtiff", msg);
}
void on_warning(const char*, const char*, va_list) {}

// How Pillow 9.4 opens a layout: its OPEN_INFO table (TiffImagePlugin.py), keyed by
// photometric interpretation, sample format, bits and extra samples, and the raw mode that
// says how the samples become pixels. Layouts it lacks, it refuses; so do we.
struct Layout {
  bool supported = true;
  std::string refusal;
  ImageMode mode = ImageMode::RGBA;
  bool unpack = true;          // false: libtiff's RGBA reader (YCbCr)
  bool invert = false;         // WhiteIsZero gray ("1;I", "L;I", ...)
  bool premultiplied = false;  // ExtraSamples 1, associated alpha ("RGBa", "RGBa;16L")
};

Layout pillow_layout(std::uint16_t photometric, std::uint16_t format, std::uint16_t bits, std::uint16_t spp,
                     std::span<const std::uint16_t> extra, bool big_endian) {
  const auto refuse = [&](const std::string& what) {
    Layout l;
    l.supported = false;
    l.refusal = what + " (photometric " + std::to_string(photometric) + ", " + std::to_string(spp) + " samples of " +
                std::to_string(bits) + " bits, sample format " + std::to_string(format) +
                "): the reference (Pillow 9.4) cannot read it either";
    return l;
  };
  Layout l;
  const bool gray = photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
  const bool uint = format == SAMPLEFORMAT_UINT;
  const std::size_t colours = photometric == PHOTOMETRIC_SEPARATED         ? 4
                              : gray || photometric == PHOTOMETRIC_PALETTE ? 1
                                                                           : 3;
  if (spp != colours + extra.size() && !(photometric == PHOTOMETRIC_RGB && spp == 4 && extra.empty()))
    return refuse("a TIFF whose samples per pixel do not match its colours and extra samples");
  const int first_extra = extra.empty() ? -1 : extra[0];
  if (first_extra > EXTRASAMPLE_UNASSALPHA && first_extra != 999)  // 999: Corel Draw 10's alpha
    return refuse("a TIFF with an unknown kind of extra sample");
  for (std::size_t i = 1; i < extra.size(); ++i)
    if (extra[i] != EXTRASAMPLE_UNSPECIFIED) return refuse("a TIFF with more than one alpha sample");
  if (photometric == PHOTOMETRIC_YCBCR) {
    if (bits != 8 || spp != 3) return refuse("a YCbCr TIFF other than 8-bit");
    l.unpack = false;
    l.mode = ImageMode::RGB;  // Pillow: "RGB", converted by libjpeg or libtiff
    return l;
  }
  if (photometric == PHOTOMETRIC_CIELAB) {
    if (bits != 8 || spp != 3 || !uint) return refuse("a CIELab TIFF other than 8-bit");
    l.mode = ImageMode::LAB;  // rawmode "LAB": a and b stored signed, kept offset by 128
    return l;
  }
  if (gray && spp == 1) {
    l.invert = photometric == PHOTOMETRIC_MINISWHITE;
    if (uint && (bits == 1 || bits == 2 || bits == 4 || bits == 8)) {
      l.mode = bits == 1 ? ImageMode::One : ImageMode::L;
      return l;
    }
    if (bits == 16 && uint && !(big_endian && l.invert)) {  // WhiteIsZero ignored, as Pillow does
      l.invert = false;
      l.mode = ImageMode::I16;
      return l;
    }
    if (bits == 12 && photometric == PHOTOMETRIC_MINISBLACK && uint && !big_endian) {
      l.supported = false;
      l.refusal = "a 12-bit gray TIFF: the reference (Pillow 9.4) opens it as I;16 but cannot resize it";
      return l;
    }
    l.invert = false;
    l.mode = ImageMode::I;
    if (photometric == PHOTOMETRIC_MINISBLACK && format == SAMPLEFORMAT_INT && (bits == 16 || bits == 32)) return l;
    if (photometric == PHOTOMETRIC_MINISBLACK && uint && bits == 32 && !big_endian) return l;
    if (format == SAMPLEFORMAT_IEEEFP && bits == 32) {  // "F;32F", WhiteIsZero or not
      l.mode = ImageMode::F;
      return l;
    }
    return refuse("a gray TIFF of this depth");
  }
  if (!uint) return refuse("a colour TIFF with signed or floating-point samples");
  if (photometric == PHOTOMETRIC_MINISBLACK && spp == 2 && bits == 8 && first_extra == EXTRASAMPLE_UNASSALPHA) {
    l.mode = ImageMode::LA;
    return l;
  }
  if (photometric == PHOTOMETRIC_PALETTE && spp == 1 && (bits == 1 || bits == 2 || bits == 4 || bits == 8)) {
    l.mode = ImageMode::P;
    return l;
  }
  if (photometric == PHOTOMETRIC_PALETTE && spp == 2 && bits == 8 && first_extra == EXTRASAMPLE_UNASSALPHA) {
    l.mode = ImageMode::PA;
    return l;
  }
  if (photometric == PHOTOMETRIC_RGB && (bits == 8 || (bits == 16 && spp <= 4))) {
    // RGB, RGBA ("RGBA", "RGBa", "RGBX" and their trailing X bands), 8 or 16 bits.
    l.mode = first_extra == EXTRASAMPLE_UNSPECIFIED || spp == 3 ? ImageMode::RGB : ImageMode::RGBA;
    l.premultiplied = first_extra == EXTRASAMPLE_ASSOCALPHA;
    if (spp <= 6) return l;
  }
  if (photometric == PHOTOMETRIC_SEPARATED && spp <= 6 && (bits == 8 || (bits == 16 && spp == 4 && !big_endian))) {
    if (!extra.empty() && first_extra != EXTRASAMPLE_UNSPECIFIED) return refuse("a CMYK TIFF with alpha");
    l.mode = ImageMode::CMYK;
    return l;
  }
  return refuse("a TIFF of this layout");
}

// The decoded samples of one plane (of all, when they are contiguous), rows of
// TIFFScanlineSize bytes, from strips or tiles, in native byte order (libtiff decompresses,
// undoes the predictor and FillOrder, and swaps bytes).
template <typename Fail>
std::vector<std::uint8_t> read_samples(TIFF* tif, std::uint32_t width, std::uint32_t height, const Fail& fail,
                                       std::uint16_t plane = 0) {
  const std::uint64_t row_bytes = TIFFScanlineSize64(tif);
  if (row_bytes == 0) fail("corrupt TIFF: no row size");
  std::vector<std::uint8_t> out(row_bytes * height);
  if (!TIFFIsTiled(tif)) {
    for (std::uint32_t y = 0; y < height; ++y)
      if (TIFFReadScanline(tif, out.data() + y * row_bytes, y, plane) < 0) fail("corrupt or truncated TIFF data");
    return out;
  }
  std::uint32_t tw = 0, th = 0;
  TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
  TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
  const std::uint64_t tile_bytes = TIFFTileSize64(tif), tile_row = TIFFTileRowSize64(tif);
  // A tile far larger than the image would be a memory bomb behind a small pixel count.
  if (tw == 0 || th == 0 || tile_bytes == 0 || tile_bytes > std::max<std::uint64_t>(out.size(), 64u << 20))
    fail("corrupt TIFF: tiles of " + std::to_string(tw) + "x" + std::to_string(th));
  std::vector<std::uint8_t> tile(tile_bytes);
  const std::uint64_t pixel_bits = row_bytes * 8 / width;  // whole bytes per tile row: tw is a multiple of 16
  for (std::uint32_t ty = 0; ty < height; ty += th)
    for (std::uint32_t tx = 0; tx < width; tx += tw) {
      if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, tx, ty, 0, plane), tile.data(),
                              static_cast<tmsize_t>(tile_bytes)) < 0)
        fail("corrupt or truncated TIFF tile");
      const std::uint64_t x_byte = tx * pixel_bits / 8, n = std::min(tile_row, row_bytes - x_byte);
      for (std::uint32_t y = ty; y < std::min(height, ty + th); ++y)
        std::memcpy(out.data() + y * row_bytes + x_byte, tile.data() + (y - ty) * tile_row, n);
    }
  return out;
}

// One 16- or 32-bit gray sample as Pillow's "I;16", "I;16S", "I;32N", "I;32S", "F;32F" read it.
std::int32_t wide_sample(const std::uint8_t* row, std::size_t x, int bits, std::uint16_t format) {
  if (bits == 16) {
    std::uint16_t v;
    std::memcpy(&v, row + 2 * x, 2);
    return format == SAMPLEFORMAT_INT ? static_cast<std::int16_t>(v) : v;
  }
  std::int32_t v;  // unsigned 32-bit values above 2^31 wrap, as in Pillow; a float's bits for F
  std::memcpy(&v, row + 4 * x, 4);
  return v;
}

// Pillow's unpackRGBa: colour * 255 / alpha, clipped; a zero alpha zeroes the pixel.
void unpremultiply(std::span<std::uint8_t> rgba) {
  for (std::size_t i = 0; i < rgba.size(); i += 4) {
    const int a = rgba[i + 3];
    if (a == 255) continue;
    for (int c = 0; c < 3; ++c)
      rgba[i + c] = a == 0 ? 0 : static_cast<std::uint8_t>(std::min(255, rgba[i + c] * 255 / a));
  }
}

// Uncompressed files whose raw mode Pillow 9.4 reads without libtiff, with its own raw
// decoder: each strip or tile read from its offset in the file (StripByteCounts ignored, so
// rows may run into the bytes after it), rows one after another. Two layouts read there
// differ from what the samples are, and we reproduce them:
//   - separate planes: plane k is unpacked by letter k of the raw mode ("R", "G", "B", "A",
//     "C", ..., "L", "P": one byte a sample, no inversion, no Lab offset), so the bytes of a
//     16-bit plane, or of a 2- or 4-bit gray or palette one, are read as 8-bit samples in
//     rows of the image's width; a bilevel plane's "1" is one bit a sample, never inverted;
//     a signed 16-bit or a 32-bit gray plane's "I" or "F" four native-order bytes a sample;
//   - YCbCr, whose raw mode is "RGBX": four bytes a pixel taken as R, G, B, X, unconverted.
// The walk over strips/tiles and each one's row stride are TiffImagePlugin._setup's.
struct RawRead {
  int pixel_bits = 8;            // bits a pixel in one layer: 8 (1, 32) for a plane, 32 for "RGBX"
  bool planes = true;            // layer k fills band k; otherwise one layer fills bands 0-2
  double stride_per_column = 0;  // bytes of a full row of a tile per pixel (Pillow's stride rule)
};

template <typename Fail>
void read_raw_like_pillow(TIFF* tif, Bytes data, const RawRead& how, Image& image, const Fail& fail) {
  const bool tiled = TIFFIsTiled(tif);
  const std::uint32_t xsize = static_cast<std::uint32_t>(image.width()),
                      ysize = static_cast<std::uint32_t>(image.height());
  std::uint32_t w = xsize, h = ysize;
  if (tiled) {
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &h);
  } else if (!TIFFGetField(tif, TIFFTAG_ROWSPERSTRIP, &h) || h == 0) {
    h = ysize;
  }
  if (w == 0 || h == 0) fail("corrupt TIFF: tiles of " + std::to_string(w) + "x" + std::to_string(h));
  std::uint64_t* offsets = nullptr;
  if (!TIFFGetField(tif, tiled ? TIFFTAG_TILEOFFSETS : TIFFTAG_STRIPOFFSETS, &offsets) || !offsets)
    fail("corrupt TIFF: no strip or tile offsets");
  const std::uint32_t count = tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
  const int bands = image.bands(), layers = how.planes ? std::max(bands, 1) : 1;
  auto px = image.pixels();
  auto wide = image.wide_pixels();
  std::uint32_t x = 0, y = 0;
  int layer = 0;
  for (std::uint32_t i = 0; i < count && layer < layers; ++i) {
    const std::uint32_t x1 = std::min<std::uint64_t>(std::uint64_t{x} + w, xsize);
    const std::uint32_t y1 = std::min<std::uint64_t>(std::uint64_t{y} + h, ysize);
    const std::uint64_t row = (std::uint64_t{x1 - x} * how.pixel_bits + 7) / 8;
    // Pillow passes a stride only for tiles past the right edge; it may exceed the row read.
    const std::uint64_t stride =
        std::uint64_t{x} + w > xsize ? static_cast<std::uint64_t>(w * how.stride_per_column) : row;
    if (stride < row) fail("corrupt TIFF: a tile row shorter than its pixels");
    for (std::uint32_t r = 0; r < y1 - y; ++r) {
      // Offsets and strides come from the file: checked before they are added or multiplied.
      if (offsets[i] > data.size() || (r > 0 && stride > data.size()))
        fail("truncated TIFF: image data past the end of the file");
      const std::uint64_t at = offsets[i] + r * stride;
      if (at > data.size() || data.size() - at < row) fail("truncated TIFF: image data past the end of the file");
      const std::uint8_t* in = data.data() + at;
      const std::size_t first = std::size_t{y + r} * xsize + x;  // the row's first pixel
      for (std::size_t c = 0; c < x1 - x; ++c) {
        if (!how.planes)
          std::copy_n(in + 4 * c, 3, &px[(first + c) * bands]);
        else if (how.pixel_bits == 1)
          px[first + c] = (in[c / 8] >> (7 - c % 8)) & 1 ? 255 : 0;
        else if (how.pixel_bits == 32)
          std::memcpy(&wide[first + c], in + 4 * c, 4);
        else
          px[(first + c) * bands + layer] = in[c];
      }
    }
    if ((x += w) >= xsize) {
      x = 0;
      if ((y += h) >= ysize) y = 0, ++layer;
    }
  }
}

// Pillow 9.4 turns every TIFF upright by its Orientation tag once loaded (TiffImageFile.
// load_end: 2-8 as ImageOps.exif_transpose), whatever ImageOptions says about EXIF; the
// size it reported before loading stays the unturned one.
Image upright(Image image, std::uint16_t orientation) {
  image.set_format("TIFF");
  const int w = image.width(), h = image.height();
  image = apply_orientation(image, orientation);
  if (image.width() != w) image.set_size_before_load(w, h);
  return image;
}

// The colour map of a palette image: 16-bit entries, their high bytes (Pillow: "RGB;L" of b // 256).
template <typename Fail>
void read_palette(TIFF* tif, Image& image, std::uint16_t bits, const Fail& fail) {
  std::uint16_t *r, *g, *b;
  if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b)) fail("palette TIFF without a colour map");
  for (int i = 0; i < (1 << bits); ++i)
    image.palette().push_back({static_cast<std::uint8_t>(r[i] >> 8), static_cast<std::uint8_t>(g[i] >> 8),
                               static_cast<std::uint8_t>(b[i] >> 8)});
  pad_palette_with_gray_ramp(image.palette());  // read by the bytes of a separate 1-4-bit plane
}

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};

}  // namespace

Image decode_tiff(Bytes data, const DecodeContext& ctx) {
  TIFFSetErrorHandler(on_error);
  TIFFSetWarningHandler(on_warning);
  last_error[0] = '\0';
  Reader reader{data};
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFClientOpen(std::string(ctx.name).c_str(), "rm", &reader, read_proc,
                                                       write_proc, seek_proc, close_proc, size_proc, map_proc,
                                                       unmap_proc));
  const auto fail = [&](const std::string& what) {
    ctx.fail(what + (last_error[0] ? std::string(" (") + last_error + ")" : ""));
  };
  if (!tif) fail("corrupt TIFF header");
  std::uint32_t width = 0, height = 0;
  std::uint16_t bits = 1, spp = 1, photometric = PHOTOMETRIC_MINISBLACK, planar = PLANARCONFIG_CONTIG,
                format = SAMPLEFORMAT_UINT;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &height);
  ctx.check_size(width, height);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &format);
  if (!TIFFGetField(tif.get(), TIFFTAG_PHOTOMETRIC, &photometric)) photometric = PHOTOMETRIC_MINISBLACK;
  std::uint16_t extra_count = 0;
  std::uint16_t* extra = nullptr;
  TIFFGetField(tif.get(), TIFFTAG_EXTRASAMPLES, &extra_count, &extra);
  std::uint16_t orientation = ORIENTATION_TOPLEFT;
  TIFFGetField(tif.get(), TIFFTAG_ORIENTATION, &orientation);
  if (orientation < ORIENTATION_TOPLEFT || orientation > ORIENTATION_LEFTBOT) orientation = ORIENTATION_TOPLEFT;

  const Layout layout =
      pillow_layout(photometric, format, bits, spp, std::span(extra, extra_count), TIFFIsBigEndian(tif.get()) != 0);
  if (!layout.supported) fail(layout.refusal);
  std::uint16_t compression = COMPRESSION_NONE;
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_COMPRESSION, &compression);
  const bool separate = planar == PLANARCONFIG_SEPARATE;
  if (compression == COMPRESSION_NONE && (separate || photometric == PHOTOMETRIC_YCBCR)) {
    // Pillow's own raw decoder (see read_raw_like_pillow), with the raw modes it refuses
    // (I;16 too: its letter "I" has no unpacker for that mode).
    if (separate && (layout.premultiplied || layout.mode == ImageMode::LA || layout.mode == ImageMode::PA ||
                     layout.mode == ImageMode::I16))
      fail(
          "an uncompressed TIFF of separate planes with this layout: the reference (Pillow 9.4) cannot read it "
          "either (no raw mode for one plane)");
    // Bits a sample of the plane's letter: "1" one, "I" and "F" 32, the others 8.
    const int letter_bits = layout.mode == ImageMode::One                                ? 1
                            : layout.mode == ImageMode::I || layout.mode == ImageMode::F ? 32
                                                                                         : 8;
    Image image(photometric == PHOTOMETRIC_YCBCR ? ImageMode::RGB : layout.mode, static_cast<int>(width),
                static_cast<int>(height));
    const int colours = photometric == PHOTOMETRIC_SEPARATED             ? 4
                        : spp == 1 || photometric == PHOTOMETRIC_PALETTE ? 1
                                                                         : 3;
    const double row_bytes_per_pixel = spp * bits / 8.0;  // Pillow: sum(BitsPerSample) / 8
    read_raw_like_pillow(tif.get(), data,
                         separate ? RawRead{letter_bits, true, row_bytes_per_pixel / (colours + extra_count)}
                                  : RawRead{32, false, row_bytes_per_pixel},
                         image, fail);
    if (layout.mode == ImageMode::P) read_palette(tif.get(), image, bits, fail);
    return upright(std::move(image), orientation);
  }
  if (separate && spp > 1) {
    if (!layout.unpack)
      fail("a compressed YCbCr TIFF of separate planes: the reference (Pillow 9.4) cannot read it either");
    // Pillow's libtiff decoder: plane k into band k (of its 4-byte pixel, so the second plane
    // of LA or PA is lost and alpha stays 0), the high byte of 16-bit samples, then
    // associated (or unspecified) alpha undone.
    Image image(layout.mode, static_cast<int>(width), static_cast<int>(height));
    const int bands = image.bands();
    const bool with_alpha_lost = layout.mode == ImageMode::LA || layout.mode == ImageMode::PA;
    const int planes = with_alpha_lost ? 1 : std::min<int>(bands, spp);
    const int step = bits / 8, high = std::endian::native == std::endian::little ? step - 1 : 0;
    auto px = image.pixels();
    for (int k = 0; k < planes; ++k) {
      const std::vector<std::uint8_t> plane =
          read_samples(tif.get(), width, height, fail, static_cast<std::uint16_t>(k));
      const std::size_t row_bytes = plane.size() / height;
      for (std::uint32_t y = 0; y < height; ++y)
        for (std::uint32_t x = 0; x < width; ++x)
          px[(std::size_t{y} * width + x) * bands + k] = plane[y * row_bytes + std::size_t{x} * step + high];
    }
    std::uint16_t defaulted_count = 0;
    std::uint16_t* defaulted = nullptr;
    TIFFGetFieldDefaulted(tif.get(), TIFFTAG_EXTRASAMPLES, &defaulted_count, &defaulted);
    if (layout.mode == ImageMode::RGBA && defaulted_count >= 1 &&
        (defaulted[0] == EXTRASAMPLE_UNSPECIFIED || defaulted[0] == EXTRASAMPLE_ASSOCALPHA))
      unpremultiply(px);
    if (layout.mode == ImageMode::PA) read_palette(tif.get(), image, bits, fail);
    return upright(std::move(image), orientation);
  }
  if (!layout.unpack) {
    // Compressed YCbCr: libtiff's RGBA reader, asked for the file's own orientation so that
    // it flips nothing (rows in stored order).
    Image image(ImageMode::RGBA, static_cast<int>(width), static_cast<int>(height));
    auto px = image.pixels();
    if (!TIFFReadRGBAImageOriented(tif.get(), width, height, reinterpret_cast<std::uint32_t*>(px.data()), orientation,
                                   0))
      fail("unsupported or corrupt TIFF");
    if (layout.mode != ImageMode::RGB) return upright(std::move(image), orientation);
    Image rgb(ImageMode::RGB, image.width(), image.height());  // the alpha libtiff adds dropped
    for (std::size_t i = 0, n = static_cast<std::size_t>(width) * height; i < n; ++i)
      std::copy_n(px.begin() + 4 * i, 3, rgb.pixels().begin() + 3 * i);
    return upright(std::move(rgb), orientation);
  }

  const std::vector<std::uint8_t> samples = read_samples(tif.get(), width, height, fail);
  const std::size_t row_bytes = samples.size() / height, w = width;
  Image image(layout.mode, static_cast<int>(width), static_cast<int>(height));
  const int bands = image.bands();
  for (std::uint32_t y = 0; y < height; ++y) {
    const std::uint8_t* in = samples.data() + y * row_bytes;
    if (layout.mode == ImageMode::I || layout.mode == ImageMode::I16 || layout.mode == ImageMode::F) {
      auto out = image.wide_pixels().subspan(y * w, w);
      for (std::size_t x = 0; x < w; ++x) out[x] = wide_sample(in, x, bits, format);
      continue;
    }
    auto out = image.pixels().subspan(y * w * bands, w * bands);
    if (bits < 8) {  // "1", "L;2", "L;4", "P;1", "P;2", "P;4": packed, most significant first
      const int per = 8 / bits, scale = layout.mode == ImageMode::P ? 1 : 255 / ((1 << bits) - 1);
      for (std::size_t x = 0; x < w; ++x) {
        const int v = (in[x / per] >> (8 - bits * (1 + static_cast<int>(x % per)))) & ((1 << bits) - 1);
        out[x] = static_cast<std::uint8_t>(layout.invert ? 255 - v * scale : v * scale);
      }
      continue;
    }
    // 8 or 16 bits a sample: the first `bands` samples of each pixel, the high byte of a
    // 16-bit one (libtiff returns native byte order).
    const int step = bits / 8, high = std::endian::native == std::endian::little ? step - 1 : 0;
    for (std::size_t x = 0; x < w; ++x)
      for (int c = 0; c < bands; ++c) {
        const std::uint8_t v = in[(x * spp + c) * step + high];
        out[x * bands + c] = layout.invert                            ? static_cast<std::uint8_t>(255 - v)
                             : layout.mode == ImageMode::LAB && c > 0 ? static_cast<std::uint8_t>(v ^ 128)
                                                                      : v;
      }
    if (layout.premultiplied) unpremultiply(out);
  }
  if (layout.mode == ImageMode::P || layout.mode == ImageMode::PA) read_palette(tif.get(), image, bits, fail);
  return upright(std::move(image), orientation);
}

}  // namespace clip::image
