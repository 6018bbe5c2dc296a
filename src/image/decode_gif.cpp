// GIF through giflib: the first frame on the logical screen, mode P (or L when the
// palette is the identity gray ramp), as Pillow opens it.
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "image/decoders.h"

namespace clip::image {
namespace {

struct Reader {
  Bytes data;
  std::size_t pos = 0;
};

int read_bytes(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<Reader*>(gif->UserData);
  const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(n), r->data.size() - r->pos);
  std::memcpy(out, r->data.data() + r->pos, count);
  r->pos += count;
  return static_cast<int>(count);
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int err;
    DGifCloseFile(gif, &err);
  }
};

}  // namespace

Image decode_gif(Bytes data, const DecodeContext& ctx) {
  Reader reader{data};
  int error = 0;
  std::unique_ptr<GifFileType, GifCloser> gif(DGifOpen(&reader, read_bytes, &error));
  if (!gif) ctx.fail(std::string("corrupt GIF (") + GifErrorString(error) + ")");
  ctx.check_size(gif->SWidth, gif->SHeight);
  if (DGifSlurp(gif.get()) != GIF_OK)
    ctx.fail(std::string("corrupt or truncated GIF (") + GifErrorString(gif->Error) + ")");
  if (gif->ImageCount < 1) ctx.fail("GIF without any image");
  const SavedImage& frame = gif->SavedImages[0];
  const GifImageDesc& desc = frame.ImageDesc;
  const ColorMapObject* colors = desc.ColorMap ? desc.ColorMap : gif->SColorMap;
  if (!colors) ctx.fail("GIF without a colour table");
  if (desc.Left < 0 || desc.Top < 0 || desc.Width < 0 || desc.Height < 0 ||
      desc.Left + desc.Width > gif->SWidth || desc.Top + desc.Height > gif->SHeight || !frame.RasterBits)
    ctx.fail("GIF frame lies outside the logical screen");

  GraphicsControlBlock gcb{};
  gcb.TransparentColor = NO_TRANSPARENT_COLOR;
  DGifSavedExtensionToGCB(gif.get(), 0, &gcb);

  bool gray_ramp = true;
  for (int i = 0; i < colors->ColorCount; ++i) {
    const GifColorType& c = colors->Colors[i];
    gray_ramp = gray_ramp && c.Red == i && c.Green == i && c.Blue == i;
  }
  Image image(gray_ramp ? ImageMode::L : ImageMode::P, gif->SWidth, gif->SHeight);
  if (!gray_ramp)
    for (int i = 0; i < colors->ColorCount; ++i)
      image.palette().push_back({colors->Colors[i].Red, colors->Colors[i].Green, colors->Colors[i].Blue});
  // Outside the first frame Pillow shows the transparent index (or 0).
  const std::uint8_t fill = gcb.TransparentColor >= 0 ? static_cast<std::uint8_t>(gcb.TransparentColor) : 0;
  auto px = image.pixels();
  std::fill(px.begin(), px.end(), fill);
  for (int y = 0; y < desc.Height; ++y)
    std::memcpy(px.data() + static_cast<std::size_t>(desc.Top + y) * gif->SWidth + desc.Left,
                frame.RasterBits + static_cast<std::size_t>(y) * desc.Width, static_cast<std::size_t>(desc.Width));
  image.set_format("GIF");
  return image;
}

}  // namespace clip::image
