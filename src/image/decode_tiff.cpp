// TIFF through libtiff, with Pillow's modes: 1-bit gray -> 1, 8-bit gray -> L, 16-bit
// gray -> I;16, 8-bit RGB/RGBA/CMYK, 8-bit palette -> P. Other layouts go through
// libtiff's RGBA interface (mode RGBA).
#include <tiffio.h>

#include <cstdarg>
#include <cstring>
#include <memory>

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
  const bool gray = photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
  const bool simple = !TIFFIsTiled(tif.get()) && planar == PLANARCONFIG_CONTIG && format == SAMPLEFORMAT_UINT;

  ImageMode mode;
  bool known = simple;
  if (gray && spp == 1 && bits == 1)
    mode = ImageMode::One;
  else if (gray && spp == 1 && bits == 8)
    mode = ImageMode::L;
  else if (photometric == PHOTOMETRIC_MINISBLACK && spp == 1 && bits == 16)
    mode = ImageMode::I16;
  else if (photometric == PHOTOMETRIC_RGB && spp == 3 && bits == 8)
    mode = ImageMode::RGB;
  else if (photometric == PHOTOMETRIC_RGB && spp == 4 && bits == 8)
    mode = ImageMode::RGBA;
  else if (photometric == PHOTOMETRIC_SEPARATED && spp == 4 && bits == 8)
    mode = ImageMode::CMYK;
  else if (photometric == PHOTOMETRIC_PALETTE && spp == 1 && bits == 8)
    mode = ImageMode::P;
  else
    known = false;

  if (!known) {
    // Anything else (tiles, planes, YCbCr, other depths): libtiff's RGBA reader.
    Image image(ImageMode::RGBA, static_cast<int>(width), static_cast<int>(height));
    auto px = image.pixels();
    if (!TIFFReadRGBAImageOriented(tif.get(), width, height, reinterpret_cast<std::uint32_t*>(px.data()),
                                   ORIENTATION_TOPLEFT, 0))
      fail("unsupported or corrupt TIFF");
    image.set_format("TIFF");
    return image;
  }

  Image image(mode, static_cast<int>(width), static_cast<int>(height));
  const tmsize_t scanline = TIFFScanlineSize(tif.get());
  std::vector<std::uint8_t> row(static_cast<std::size_t>(scanline));
  const std::size_t w = width;
  for (std::uint32_t y = 0; y < height; ++y) {
    if (TIFFReadScanline(tif.get(), row.data(), y, 0) < 0) fail("corrupt or truncated TIFF data");
    if (mode == ImageMode::I16) {
      auto wide = image.wide_pixels();
      for (std::size_t x = 0; x < w; ++x) {
        std::uint16_t v;
        std::memcpy(&v, row.data() + 2 * x, 2);  // libtiff returns native byte order
        wide[y * w + x] = v;
      }
    } else if (mode == ImageMode::One) {
      auto px = image.pixels();
      for (std::size_t x = 0; x < w; ++x) {
        const bool set = (row[x / 8] >> (7 - x % 8)) & 1;
        px[y * w + x] = (set != (photometric == PHOTOMETRIC_MINISWHITE)) ? 255 : 0;
      }
    } else {
      auto px = image.pixels();
      const std::size_t n = w * static_cast<std::size_t>(image.bands());
      std::copy_n(row.begin(), n, px.begin() + y * n);
      if (photometric == PHOTOMETRIC_MINISWHITE)
        for (std::size_t i = y * n; i < (y + 1) * n; ++i) px[i] = static_cast<std::uint8_t>(255 - px[i]);
    }
  }
  if (mode == ImageMode::RGBA && extra_count == 1 && extra[0] == EXTRASAMPLE_ASSOCALPHA) {
    // Premultiplied alpha: Pillow reads it as "RGBa" and un-premultiplies.
    auto px = image.pixels();
    for (std::size_t i = 0; i < px.size(); i += 4) {
      const int a = px[i + 3];
      if (a != 0 && a != 255)
        for (int c = 0; c < 3; ++c) px[i + c] = static_cast<std::uint8_t>(std::min(255, 255 * px[i + c] / a));
    }
  }
  if (mode == ImageMode::P) {
    std::uint16_t *r, *g, *b;
    if (!TIFFGetField(tif.get(), TIFFTAG_COLORMAP, &r, &g, &b)) fail("palette TIFF without a colour map");
    for (int i = 0; i < 256; ++i)
      image.palette().push_back({static_cast<std::uint8_t>(r[i] >> 8), static_cast<std::uint8_t>(g[i] >> 8),
                                 static_cast<std::uint8_t>(b[i] >> 8)});
  }
  std::uint16_t orientation = 1;
  if (ctx.options.apply_exif_orientation && TIFFGetField(tif.get(), TIFFTAG_ORIENTATION, &orientation) &&
      orientation != 1)
    image = apply_orientation(image, orientation);
  image.set_format("TIFF");
  return image;
}

}  // namespace clip::image
