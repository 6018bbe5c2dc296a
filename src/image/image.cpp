#include "clip/image.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "clip/error.h"
#include "core/file.h"
#include "image/decoders.h"
#include "image/lab.h"

namespace clip {

const char* mode_name(ImageMode mode) {
  switch (mode) {
    case ImageMode::One: return "1";
    case ImageMode::L: return "L";
    case ImageMode::LA: return "LA";
    case ImageMode::P: return "P";
    case ImageMode::PA: return "PA";
    case ImageMode::RGB: return "RGB";
    case ImageMode::RGBA: return "RGBA";
    case ImageMode::CMYK: return "CMYK";
    case ImageMode::I: return "I";
    case ImageMode::I16: return "I;16";
    case ImageMode::F: return "F";
    case ImageMode::LAB: return "LAB";
  }
  return "?";
}

namespace {

int bands_of(ImageMode mode) {
  switch (mode) {
    case ImageMode::LA:
    case ImageMode::PA: return 2;
    case ImageMode::RGB:
    case ImageMode::LAB: return 3;
    case ImageMode::RGBA:
    case ImageMode::CMYK: return 4;
    default: return 1;
  }
}

bool is_wide(ImageMode mode) { return mode == ImageMode::I || mode == ImageMode::I16 || mode == ImageMode::F; }

inline std::uint8_t muldiv255(int a, int b) {
  const int t = a * b + 128;
  return static_cast<std::uint8_t>(((t >> 8) + t) >> 8);
}

inline std::uint8_t clip8(int v) { return static_cast<std::uint8_t>(std::clamp(v, 0, 255)); }

}  // namespace

Image::Image(ImageMode mode, int width, int height) : mode_(mode), width_(width), height_(height) {
  if (width < 0 || height < 0) throw Error("Image: negative size");
  const std::size_t n = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  if (is_wide(mode))
    wide_.assign(n, 0);
  else
    pixels_.assign(n * static_cast<std::size_t>(bands_of(mode)), 0);
}

int Image::bands() const { return bands_of(mode_); }

Image Image::from_pixels(ImageMode mode, int width, int height, std::vector<std::uint8_t> pixels) {
  if (is_wide(mode)) throw Error(std::string("Image::from_pixels: mode ") + mode_name(mode) + " is not 8-bit");
  if (width < 0 || height < 0 ||
      pixels.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * bands_of(mode))
    throw Error("Image::from_pixels: " + std::to_string(pixels.size()) + " bytes do not make a " +
                std::to_string(width) + "x" + std::to_string(height) + " " + mode_name(mode) + " image");
  Image image;
  image.mode_ = mode;
  image.width_ = width;
  image.height_ = height;
  image.pixels_ = std::move(pixels);
  return image;
}

Image Image::crop(int left, int top, int w, int h) const {
  if (left < 0 || top < 0 || w < 0 || h < 0 || left + w > width_ || top + h > height_)
    throw Error("Image::crop: box outside the " + std::to_string(width_) + "x" + std::to_string(height_) + " image");
  Image out(mode_, w, h);
  out.format_ = format_;
  out.palette_ = palette_;
  const int b = bands();
  for (int y = 0; y < h; ++y) {
    const std::size_t src = (static_cast<std::size_t>(top + y) * width_ + left);
    const std::size_t dst = static_cast<std::size_t>(y) * w;
    if (is_wide(mode_))
      std::copy_n(wide_.begin() + src, w, out.wide_.begin() + dst);
    else
      std::copy_n(pixels_.begin() + src * b, static_cast<std::size_t>(w) * b, out.pixels_.begin() + dst * b);
  }
  return out;
}

Image Image::to_rgb() const {
  Image out(ImageMode::RGB, width_, height_);
  out.format_ = format_;
  if (mode_ == ImageMode::LAB) {  // through LittleCMS, as Pillow converts it
    image::lab_to_rgb(pixels_, out.pixels_);
    return out;
  }
  const std::size_t n = static_cast<std::size_t>(width_) * height_;
  std::uint8_t* d = out.pixels_.data();
  const std::uint8_t* s = pixels_.data();
  for (std::size_t i = 0; i < n; ++i, d += 3) {
    switch (mode_) {
      case ImageMode::RGB: std::copy_n(s + i * 3, 3, d); break;
      case ImageMode::RGBA: std::copy_n(s + i * 4, 3, d); break;  // alpha dropped, not composited
      case ImageMode::L: d[0] = d[1] = d[2] = s[i]; break;
      case ImageMode::One: d[0] = d[1] = d[2] = s[i] ? 255 : 0; break;
      case ImageMode::LA: d[0] = d[1] = d[2] = s[i * 2]; break;
      case ImageMode::P:
      case ImageMode::PA: {  // Pillow's p2rgb / pa2rgb: the (resized) index, alpha ignored
        const std::size_t idx = s[i * bands_of(mode_)];
        if (idx < palette_.size())
          std::copy_n(palette_[idx].data(), 3, d);
        else
          d[0] = d[1] = d[2] = 0;
        break;
      }
      case ImageMode::CMYK: {
        const int nk = 255 - s[i * 4 + 3];
        for (int c = 0; c < 3; ++c) d[c] = clip8(nk - muldiv255(s[i * 4 + c], nk));
        break;
      }
      case ImageMode::I: d[0] = d[1] = d[2] = clip8(wide_[i]); break;  // clipped
      case ImageMode::I16: d[0] = d[1] = d[2] = static_cast<std::uint8_t>(std::min(wide_[i], 255)); break;
      case ImageMode::F: {  // no F -> RGB in Pillow: via L (f2l: clipped, truncated)
        const float v = std::bit_cast<float>(wide_[i]);
        d[0] = d[1] = d[2] = v >= 255.0f ? 255 : v > 0.0f ? static_cast<std::uint8_t>(v) : 0;  // NaN: 0
        break;
      }
      case ImageMode::LAB: break;  // above
    }
  }
  return out;
}

namespace image {

void DecodeContext::fail(const std::string& what) const {
  throw Error("cannot decode " + std::string(name) + ": " + what);
}

void DecodeContext::check_size(std::int64_t width, std::int64_t height) const {
  if (width <= 0 || height <= 0) fail("invalid image size " + std::to_string(width) + "x" + std::to_string(height));
  if (width > (1 << 24) || height > (1 << 24) || (options.max_pixels > 0 && width * height > options.max_pixels))
    fail("image size " + std::to_string(width) + "x" + std::to_string(height) + " exceeds the limit of " +
         std::to_string(options.max_pixels) +
         " pixels (possible decompression bomb; raise ImageOptions::max_pixels to allow it)");
}

}  // namespace image

Image Image::decode(std::span<const std::uint8_t> data, std::string_view name, const ImageOptions& options) {
  const image::DecodeContext ctx{name, options};
  const auto starts_with = [&](std::string_view magic) {
    return data.size() >= magic.size() && std::memcmp(data.data(), magic.data(), magic.size()) == 0;
  };
  Image img;
  if (starts_with("\xFF\xD8\xFF"))
    img = image::decode_jpeg(data, ctx);
  else if (starts_with("\x89PNG\r\n\x1A\n"))
    img = image::decode_png(data, ctx);
  else if (starts_with("GIF87a") || starts_with("GIF89a"))
    img = image::decode_gif(data, ctx);
  else if (starts_with("RIFF") && data.size() >= 12 && std::memcmp(data.data() + 8, "WEBP", 4) == 0)
    img = image::decode_webp(data, ctx);
  else if (starts_with("BM"))
    img = image::decode_bmp(data, ctx);
  else if (starts_with(std::string_view("II*\0", 4)) || starts_with(std::string_view("MM\0*", 4)) ||
           starts_with(std::string_view("II+\0", 4)))  // TIFF, BigTIFF
    img = image::decode_tiff(data, ctx);
  else if (starts_with(std::string_view("MM\0+", 4)))  // Pillow 9.4 takes it for a classic TIFF and fails
    ctx.fail("a big-endian BigTIFF, which the reference (Pillow 9.4) cannot read either");
  else if (starts_with(std::string_view("\0\0\1\0", 4)) && image::is_icon_directory(data))
    img = image::decode_ico(data, ctx);
  else if (starts_with(std::string_view("\0\0\2\0", 4)) && image::is_icon_directory(data))
    img = image::decode_cur(data, ctx);
  else if (image::is_jpeg2000(data))
    img = image::decode_jpeg2000(data, ctx);
  else if (starts_with("DDS "))
    img = image::decode_dds(data, ctx);
  else if (starts_with("8BPS"))
    img = image::decode_psd(data, ctx);
  else if (image::is_heif(data))
    img = image::decode_heif(data, ctx);
  else if (image::is_ppm(data))
    img = image::decode_ppm(data, ctx);
  else if (image::is_tga(data))  // last, as Pillow tries it: TGA has no magic number
    img = image::decode_tga(data, ctx);
  else if (data.empty())
    ctx.fail("the file is empty");
  else
    ctx.fail(
        "unsupported or unrecognised image format (supported: JPEG, PNG, GIF, WebP, BMP, ICO, CUR, TIFF, PBM/PGM/PPM, "
        "TGA, PSD, DDS, JPEG 2000, HEIC/HEIF, AVIF)");
  return img;
}

Image Image::open(const std::filesystem::path& path, const ImageOptions& options) {
  // A regular file only: a directory, FIFO or device is refused before anything is read.
  const std::vector<std::uint8_t> data = core::read_regular_file(path, "image", image::kMaxImageFileBytes);
  return decode(data, path.string(), options);
}

}  // namespace clip
