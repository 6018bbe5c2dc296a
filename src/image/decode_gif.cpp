// GIF through giflib: the first frame on the logical screen, mode P (or L when the
// palette is the identity gray ramp), as Pillow opens it. Records are read one by one so
// that no frame is allocated before its size is checked, and later frames are never read.
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
  GifFileType* g = gif.get();
  ctx.check_size(g->SWidth, g->SHeight);
  const auto corrupt = [&](const char* what) { ctx.fail(std::string(what) + " (" + GifErrorString(g->Error) + ")"); };

  int transparent = -1;
  while (true) {
    GifRecordType type;
    if (DGifGetRecordType(g, &type) != GIF_OK) corrupt("corrupt or truncated GIF");
    if (type == TERMINATE_RECORD_TYPE) ctx.fail("GIF without any image");
    if (type == EXTENSION_RECORD_TYPE) {
      int code;
      GifByteType* ext;
      if (DGifGetExtension(g, &code, &ext) != GIF_OK) corrupt("corrupt GIF extension");
      if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
      while (ext)
        if (DGifGetExtensionNext(g, &ext) != GIF_OK) corrupt("corrupt GIF extension");
      continue;
    }
    if (type != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(g) != GIF_OK) corrupt("corrupt GIF image descriptor");
    const GifImageDesc& desc = g->Image;
    if (desc.Left < 0 || desc.Top < 0 || desc.Width <= 0 || desc.Height <= 0 || desc.Left + desc.Width > g->SWidth ||
        desc.Top + desc.Height > g->SHeight)
      ctx.fail("GIF frame lies outside the logical screen");
    const ColorMapObject* colors = desc.ColorMap ? desc.ColorMap : g->SColorMap;
    if (!colors) ctx.fail("GIF without a colour table");

    bool gray_ramp = true;
    for (int i = 0; i < colors->ColorCount; ++i) {
      const GifColorType& c = colors->Colors[i];
      gray_ramp = gray_ramp && c.Red == i && c.Green == i && c.Blue == i;
    }
    Image image(gray_ramp ? ImageMode::L : ImageMode::P, g->SWidth, g->SHeight);
    if (!gray_ramp)
      for (int i = 0; i < colors->ColorCount; ++i)
        image.palette().push_back({colors->Colors[i].Red, colors->Colors[i].Green, colors->Colors[i].Blue});
    // Outside the first frame Pillow shows the transparent index (or 0).
    auto px = image.pixels();
    std::fill(px.begin(), px.end(), static_cast<std::uint8_t>(transparent >= 0 ? transparent : 0));
    const auto row = [&](int y) { return px.data() + static_cast<std::size_t>(desc.Top + y) * g->SWidth + desc.Left; };
    if (desc.Interlace) {
      static constexpr int kOffset[] = {0, 4, 2, 1}, kStep[] = {8, 8, 4, 2};
      for (int pass = 0; pass < 4; ++pass)
        for (int y = kOffset[pass]; y < desc.Height; y += kStep[pass])
          if (DGifGetLine(g, row(y), desc.Width) != GIF_OK) corrupt("corrupt or truncated GIF data");
    } else {
      for (int y = 0; y < desc.Height; ++y)
        if (DGifGetLine(g, row(y), desc.Width) != GIF_OK) corrupt("corrupt or truncated GIF data");
    }
    image.set_format("GIF");
    return image;
  }
}

}  // namespace clip::image
