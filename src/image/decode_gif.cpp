// GIF through giflib: the first frame on the logical screen, mode P (or L without a palette
// or when it is the identity gray ramp), as Pillow 9.4's GifImagePlugin opens it. Records are read one by one so
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

// giflib's message for an error code; it has none (NULL) for some, e.g. 0 after a read
// that ran out of data.
std::string error_text(int code) {
  const char* text = GifErrorString(code);
  return text ? text : "giflib error " + std::to_string(code);
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
  if (!gif) ctx.fail("corrupt GIF (" + error_text(error) + ")");
  GifFileType* g = gif.get();
  const auto corrupt = [&](const char* what) { ctx.fail(std::string(what) + " (" + error_text(g->Error) + ")"); };

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
    // Pillow's GifImageFile._seek(0): a first frame reaching past the logical screen
    // enlarges the image (a 0x0 screen takes the frame's size).
    const int width = std::max(g->SWidth, desc.Left + desc.Width),
              height = std::max(g->SHeight, desc.Top + desc.Height);
    ctx.check_size(width, height);
    // A colour table that is the identity gray ramp is no palette (_is_palette_needed).
    const auto palette_of = [](const ColorMapObject* map) -> const ColorMapObject* {
      if (!map) return nullptr;
      for (int i = 0; i < map->ColorCount; ++i)
        if (map->Colors[i].Red != i || map->Colors[i].Green != i || map->Colors[i].Blue != i) return map;
      return nullptr;
    };
    const ColorMapObject* global = palette_of(g->SColorMap);
    const ColorMapObject* colors = desc.ColorMap ? palette_of(desc.ColorMap) : global;
    // Without a palette the indices are gray levels (mode L), as with no colour table at all;
    // but Pillow then still gives the L image the global palette, and fails to load it.
    if (desc.ColorMap && !colors && global)
      ctx.fail(
          "a GIF whose local colour table is the gray ramp under a global palette: the reference (Pillow 9.4) "
          "cannot load it either (ValueError: image has wrong mode)");
    Image image(colors ? ImageMode::P : ImageMode::L, width, height);
    if (colors)
      for (int i = 0; i < colors->ColorCount; ++i)
        image.palette().push_back({colors->Colors[i].Red, colors->Colors[i].Green, colors->Colors[i].Blue});
    // Outside the first frame Pillow shows the transparent index (or 0).
    auto px = image.pixels();
    std::fill(px.begin(), px.end(), static_cast<std::uint8_t>(transparent >= 0 ? transparent : 0));
    const auto row = [&](int y) { return px.data() + static_cast<std::size_t>(desc.Top + y) * width + desc.Left; };
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
