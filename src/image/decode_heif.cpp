// HEIC/HEIF and AVIF through libheif. The reference (Pillow 9.4) reads neither, so there is
// nothing to match: the primary image as libheif decodes it, 8-bit RGB (RGBA when it has
// an alpha plane), its irot/imir/clap transforms applied by libheif, as phones show it.
#include <libheif/heif.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "image/decoders.h"

namespace clip::image {
namespace {

template <typename T, void (*Free)(T*)>
struct Releaser {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Releaser<T, Free>>;

void release_image(const heif_image* p) { heif_image_release(p); }
void release_handle(const heif_image_handle* p) { heif_image_handle_release(p); }

}  // namespace

bool is_heif(Bytes data) {
  if (data.size() < 12 || std::memcmp(data.data() + 4, "ftyp", 4) != 0) return false;
  const heif_filetype_result type =
      heif_check_filetype(data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
  return type == heif_filetype_yes_supported || type == heif_filetype_yes_unsupported;
}

Image decode_heif(Bytes data, const DecodeContext& ctx) {
  // Once per process: libheif 1.16+ (Debian 13) loads its decoders as plugins here.
  static std::once_flag init;
  std::call_once(init, [] { heif_init(nullptr); });

  Owned<heif_context, heif_context_free> context(heif_context_alloc());
  const auto check = [&](const heif_error& e, const char* what) {
    if (e.code != heif_error_Ok) ctx.fail(std::string(what) + ": " + e.message);
  };
  check(heif_context_read_from_memory_without_copy(context.get(), data.data(), data.size(), nullptr),
        "corrupt HEIF/AVIF file");
  heif_image_handle* raw_handle = nullptr;
  check(heif_context_get_primary_image_handle(context.get(), &raw_handle), "no primary image");
  const Owned<const heif_image_handle, release_handle> handle(raw_handle);
  // Before any pixel is decoded (rotation keeps the pixel count; a crop only lowers it).
  ctx.check_size(heif_image_handle_get_width(handle.get()), heif_image_handle_get_height(handle.get()));

  const bool alpha = heif_image_handle_has_alpha_channel(handle.get()) != 0;
  heif_image* raw_image = nullptr;
  check(heif_decode_image(handle.get(), &raw_image, heif_colorspace_RGB,
                          alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, nullptr),
        "cannot decode the image");
  const Owned<const heif_image, release_image> decoded(raw_image);
  const int width = heif_image_get_width(decoded.get(), heif_channel_interleaved),
            height = heif_image_get_height(decoded.get(), heif_channel_interleaved);
  int stride = 0;
  const std::uint8_t* plane = heif_image_get_plane_readonly(decoded.get(), heif_channel_interleaved, &stride);
  if (!plane || width <= 0 || height <= 0) ctx.fail("libheif returned no pixels");
  ctx.check_size(width, height);

  Image image(alpha ? ImageMode::RGBA : ImageMode::RGB, width, height);
  const std::size_t row = static_cast<std::size_t>(width) * image.bands();
  for (int y = 0; y < height; ++y)
    std::memcpy(image.pixels().data() + y * row, plane + static_cast<std::size_t>(y) * stride, row);
  const heif_brand brand = heif_main_brand(data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 64)));
  image.set_format(brand == heif_avif || brand == heif_avis ? "AVIF" : "HEIF");
  return image;
}

}  // namespace clip::image
