// PNG through libpng, giving the samples Pillow's own PNG decoder gives: 16-bit gray as
// mode I, other 16-bit images cut to their high byte, 16-bit gray+alpha as RGBA,
// palettes as mode P, 1-bit gray as mode 1. tRNS and colour chunks are ignored.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

struct Reader {
  Bytes data;
  std::size_t pos = 0;
  char message[256] = "";
};

void read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->data.size() - r->pos) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(out, r->data.data() + r->pos, n);
  r->pos += n;
}

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof r->message, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

// What the decoded rows hold, once libpng's transforms are set.
struct Layout {
  ImageMode mode;
  int bands;      // samples per pixel in the rows libpng returns
  bool sixteen;   // rows hold 16-bit big-endian samples (gray 16 -> mode I)
  bool gray_alpha_to_rgba;
  bool bilevel;   // 1-bit gray: 0/1 -> 0/255
};

bool run_decoder(png_structp png, png_infop info, const DecodeContext& ctx, Image* out, Layout* layout,
                 std::vector<std::uint8_t>* rows, std::vector<png_bytep>* pointers, int* orientation) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, png_get_io_ptr(png), read_bytes);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  ctx.check_size(width, height);
  const int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  *layout = {ImageMode::L, 1, false, false, false};
  switch (color) {
    case PNG_COLOR_TYPE_PALETTE:
      layout->mode = ImageMode::P;
      png_set_packing(png);
      break;
    case PNG_COLOR_TYPE_GRAY:
      if (depth == 1) {
        layout->mode = ImageMode::One;
        layout->bilevel = true;
        png_set_packing(png);
      } else if (depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
      } else if (depth == 16) {
        layout->mode = ImageMode::I;
        layout->sixteen = true;
      }
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      layout->mode = depth == 16 ? ImageMode::RGBA : ImageMode::LA;
      layout->gray_alpha_to_rgba = depth == 16;
      layout->bands = 2;
      png_set_strip_16(png);
      break;
    case PNG_COLOR_TYPE_RGB:
      layout->mode = ImageMode::RGB;
      layout->bands = 3;
      png_set_strip_16(png);
      break;
    case PNG_COLOR_TYPE_RGB_ALPHA:
      layout->mode = ImageMode::RGBA;
      layout->bands = 4;
      png_set_strip_16(png);
      break;
    default: png_error(png, "unsupported PNG colour type");
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const std::size_t rowbytes = png_get_rowbytes(png, info);
  rows->assign(rowbytes * height, 0);
  pointers->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) (*pointers)[y] = rows->data() + y * rowbytes;
  png_read_image(png, pointers->data());
  png_read_end(png, info);
  *out = Image(layout->mode, static_cast<int>(width), static_cast<int>(height));
  if (layout->mode == ImageMode::P) {
    png_colorp palette;
    int count = 0;
    if (png_get_PLTE(png, info, &palette, &count))
      for (int i = 0; i < count; ++i) out->palette().push_back({palette[i].red, palette[i].green, palette[i].blue});
  }
  png_bytep exif;
  png_uint_32 exif_size;
  if (ctx.options.apply_exif_orientation && png_get_eXIf_1(png, info, &exif_size, &exif))
    *orientation = exif_orientation(Bytes(exif, exif_size));
  return true;
}

}  // namespace

Image decode_png(Bytes data, const DecodeContext& ctx) {
  Reader reader{data};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
  if (!png) ctx.fail("out of memory");
  png_infop info = png_create_info_struct(png);
  png_set_read_fn(png, &reader, read_bytes);
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  Image image;
  Layout layout{};
  std::vector<std::uint8_t> rows;  // owned here: errors leave run_decoder through longjmp
  std::vector<png_bytep> pointers;
  int orientation = 1;
  bool ok;
  try {
    ok = info && run_decoder(png, info, ctx, &image, &layout, &rows, &pointers, &orientation);
  } catch (...) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw;
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (!ok) ctx.fail(std::string("corrupt or truncated PNG (") + reader.message + ")");

  const std::size_t n = static_cast<std::size_t>(image.width()) * image.height();
  if (layout.sixteen) {
    auto wide = image.wide_pixels();
    for (std::size_t i = 0; i < n; ++i) wide[i] = (rows[2 * i] << 8) | rows[2 * i + 1];
  } else if (layout.gray_alpha_to_rgba) {
    auto px = image.pixels();
    for (std::size_t i = 0; i < n; ++i) {
      px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = rows[2 * i];
      px[4 * i + 3] = rows[2 * i + 1];
    }
  } else {
    auto px = image.pixels();
    std::copy_n(rows.begin(), px.size(), px.begin());
    if (layout.bilevel)
      for (std::uint8_t& v : px) v = v ? 255 : 0;
  }
  image.set_format("PNG");
  if (orientation != 1) image = apply_orientation(image, orientation);
  return image;
}

}  // namespace clip::image
