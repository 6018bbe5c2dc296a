// JPEG through libjpeg-turbo with the settings Pillow uses: ISLOW DCT, fancy upsampling,
// no scaling; 4-component files read as inverted (Adobe) CMYK.
#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs size_t and FILE first

#include <jerror.h>
#include <jpeglib.h>

#include "image/decoders.h"

namespace clip::image {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are ignored, as by Pillow, except running out of data: Pillow refuses
// truncated files ("image file is truncated").
void on_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

using Wanted = std::function<Window(int, int)>;

// Partial decoding as tested (tests/image/jpeg_part_test.cpp) on libjpeg-turbo 2.1.5 (Debian
// 12 and 13); earlier versions fixed bugs in jpeg_skip_scanlines and jpeg_crop_scanline up to
// 2.1.4 (its ChangeLog), so they decode whole.
#if defined(LIBJPEG_TURBO_VERSION_NUMBER) && LIBJPEG_TURBO_VERSION_NUMBER >= 2001005
constexpr bool kPartialDecoding = true;
#else
constexpr bool kPartialDecoding = false;
#endif

// The part to decode around `want`. libjpeg-turbo decodes the edges of a part as if they
// were the picture's: fancy upsampling repeats the edge chroma sample instead of reading
// its neighbour (libjpeg.txt, "Decompressing partial scanlines"), and the block smoothing of
// progressive files reads DC values two blocks away (jdcoefct.c, decompress_smooth_data).
// Three iMCUs on every side (at least three blocks of each component) keep both away from
// what is wanted; columns then start on an iMCU, as jpeg_crop_scanline requires.
Window with_margin(const Window& want, const jpeg_decompress_struct& cinfo) {
  const int width = static_cast<int>(cinfo.output_width), height = static_cast<int>(cinfo.output_height);
  const int mcu_w = cinfo.max_h_samp_factor * DCTSIZE, mcu_h = cinfo.max_v_samp_factor * DCTSIZE;
  const int x0 = std::max(0, want.x - 3 * mcu_w), x1 = std::min(width, want.x + want.w + 3 * mcu_w);
  const int y0 = std::max(0, want.y - 3 * mcu_h), y1 = std::min(height, want.y + want.h + 3 * mcu_h);
  if (x1 <= x0 || y1 <= y0) return {0, 0, width, height};
  return {x0, y0, x1 - x0, y1 - y0};
}

// All libjpeg calls live here, with only trivially destructible locals, because errors
// leave through longjmp.
bool run_decoder(jpeg_decompress_struct* cinfo, ErrorManager* err, Bytes data, const DecodeContext& ctx,
                 const Wanted* wanted, JpegPart* out, std::vector<std::uint8_t>* spare_row, int* orientation) {
  if (setjmp(err->jump)) return false;
  jpeg_mem_src(cinfo, data.data(), static_cast<unsigned long>(data.size()));
  if (ctx.options.apply_exif_orientation) jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
  ctx.check_size(cinfo->image_width, cinfo->image_height);
  ImageMode mode;
  switch (cinfo->num_components) {
    case 1:
      cinfo->out_color_space = JCS_GRAYSCALE;
      mode = ImageMode::L;
      break;
    case 3:
      cinfo->out_color_space = JCS_RGB;
      mode = ImageMode::RGB;
      break;
    case 4:
      cinfo->out_color_space = JCS_CMYK;
      mode = ImageMode::CMYK;
      break;
    default:
      std::snprintf(err->message, sizeof err->message, "unsupported JPEG with %d components", cinfo->num_components);
      return false;
  }
  jpeg_start_decompress(cinfo);
  const int width = static_cast<int>(cinfo->output_width), height = static_cast<int>(cinfo->output_height);
  out->width = width;
  out->height = height;
  Window& held = out->held;
  held = {0, 0, width, height};
  if (wanted && kPartialDecoding) {
    held = with_margin((*wanted)(width, height), *cinfo);
    auto x = static_cast<JDIMENSION>(held.x), w = static_cast<JDIMENSION>(held.w);
    jpeg_crop_scanline(cinfo, &x, &w);  // x moves left to an iMCU boundary
    held.x = static_cast<int>(x);
    held.w = static_cast<int>(w);
    if (held.y > 0) jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(held.y));
  }
  out->image = Image(mode, held.w, held.h);
  const std::size_t stride = static_cast<std::size_t>(held.w) * cinfo->output_components;
  std::uint8_t* pixels = out->image.pixels().data();
  const auto end = static_cast<JDIMENSION>(held.y + held.h);
  while (cinfo->output_scanline < end) {
    JSAMPROW row = pixels + (cinfo->output_scanline - held.y) * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  if (cinfo->output_scanline < cinfo->output_height) {
    // The rows below are entropy-decoded too, up to the last one, which is read: skipping
    // to the end would mark the image complete without reading it, and a file truncated
    // or damaged there must fail as it does whole.
    const JDIMENSION last = cinfo->output_height - 1;
    if (cinfo->output_scanline < last) jpeg_skip_scanlines(cinfo, last - cinfo->output_scanline);
    spare_row->resize(stride);
    JSAMPROW row = spare_row->data();
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  // Saved markers live in the image pool, which jpeg_finish_decompress frees.
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6)
      *orientation = exif_orientation(Bytes(m->data, m->data_length));
  jpeg_finish_decompress(cinfo);
  return true;
}

JpegPart decode(Bytes data, const DecodeContext& ctx, const Wanted* wanted) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  err.message[0] = '\0';
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  jpeg_create_decompress(&cinfo);
  JpegPart part;
  std::vector<std::uint8_t> spare_row;
  int orientation = 1;
  bool ok;
  try {
    ok = run_decoder(&cinfo, &err, data, ctx, wanted, &part, &spare_row, &orientation);
  } catch (...) {  // the size check refused the image, or `wanted` threw
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  jpeg_destroy_decompress(&cinfo);
  if (!ok) ctx.fail(std::string("corrupt or truncated JPEG (") + err.message + ")");
  if (part.image.mode() == ImageMode::CMYK)
    for (std::uint8_t& v : part.image.pixels()) v = static_cast<std::uint8_t>(255 - v);
  part.image.set_format("JPEG");
  if (ctx.options.apply_exif_orientation && orientation != 1) {
    part.image = apply_orientation(part.image, orientation);
    part.width = part.image.width();
    part.height = part.image.height();
    part.held = {0, 0, part.width, part.height};
  }
  return part;
}

}  // namespace

Image decode_jpeg(Bytes data, const DecodeContext& ctx) { return decode(data, ctx, nullptr).image; }

JpegPart decode_jpeg_part(Bytes data, const DecodeContext& ctx, const Wanted& wanted) {
  // The orientation is known only after the pixels, and turns the picture: decoded whole.
  return decode(data, ctx, ctx.options.apply_exif_orientation ? nullptr : &wanted);
}

}  // namespace clip::image
