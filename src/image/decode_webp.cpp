// WebP through libwebp's animation decoder, as Pillow reads it: the first frame as RGBA
// (not premultiplied), kept as RGBA when the file has alpha, else as RGB.
#include <webp/decode.h>
#include <webp/demux.h>

#include <memory>

#include "image/decoders.h"

namespace clip::image {

Image decode_webp(Bytes data, const DecodeContext& ctx) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(data.data(), data.size(), &features) != VP8_STATUS_OK)
    ctx.fail("corrupt or truncated WebP header");
  ctx.check_size(features.width, features.height);

  WebPAnimDecoderOptions options;
  WebPAnimDecoderOptionsInit(&options);
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  WebPData webp_data{data.data(), data.size()};
  std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> decoder(WebPAnimDecoderNew(&webp_data, &options),
                                                                       WebPAnimDecoderDelete);
  if (!decoder) ctx.fail("corrupt or truncated WebP");
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(decoder.get(), &info)) ctx.fail("corrupt WebP");
  ctx.check_size(info.canvas_width, info.canvas_height);
  std::uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &rgba, &timestamp)) ctx.fail("corrupt or truncated WebP data");

  const bool alpha = features.has_alpha;
  Image image(alpha ? ImageMode::RGBA : ImageMode::RGB, static_cast<int>(info.canvas_width),
              static_cast<int>(info.canvas_height));
  auto px = image.pixels();
  const std::size_t n = static_cast<std::size_t>(info.canvas_width) * info.canvas_height;
  if (alpha) {
    std::copy_n(rgba, n * 4, px.begin());
  } else {
    for (std::size_t i = 0; i < n; ++i) std::copy_n(rgba + 4 * i, 3, px.begin() + 3 * i);
  }
  image.set_format("WEBP");
  return image;
}

}  // namespace clip::image
