// JPEG through libjpeg-turbo with the settings Pillow uses: ISLOW DCT, fancy upsampling,
// no scaling; 4-component files read as inverted (Adobe) CMYK.
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

// All libjpeg calls live here, with only trivially destructible locals, because errors
// leave through longjmp.
bool run_decoder(jpeg_decompress_struct* cinfo, ErrorManager* err, Bytes data, const DecodeContext& ctx, Image* out,
                 int* orientation) {
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
  *out = Image(mode, static_cast<int>(cinfo->output_width), static_cast<int>(cinfo->output_height));
  const std::size_t stride = static_cast<std::size_t>(cinfo->output_width) * cinfo->output_components;
  std::uint8_t* pixels = out->pixels().data();
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = pixels + cinfo->output_scanline * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  // Saved markers live in the image pool, which jpeg_finish_decompress frees.
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6)
      *orientation = exif_orientation(Bytes(m->data, m->data_length));
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

Image decode_jpeg(Bytes data, const DecodeContext& ctx) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  err.message[0] = '\0';
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  jpeg_create_decompress(&cinfo);
  Image image;
  int orientation = 1;
  bool ok;
  try {
    ok = run_decoder(&cinfo, &err, data, ctx, &image, &orientation);
  } catch (...) {  // the size check refused the image
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  jpeg_destroy_decompress(&cinfo);
  if (!ok) ctx.fail(std::string("corrupt or truncated JPEG (") + err.message + ")");
  if (image.mode() == ImageMode::CMYK)
    for (std::uint8_t& v : image.pixels()) v = static_cast<std::uint8_t>(255 - v);
  image.set_format("JPEG");
  if (ctx.options.apply_exif_orientation && orientation != 1) image = apply_orientation(image, orientation);
  return image;
}

}  // namespace clip::image
