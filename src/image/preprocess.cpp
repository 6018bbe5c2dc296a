// The reference's _transform(n_px): Resize(n_px, BICUBIC) -> CenterCrop(n_px) ->
// convert("RGB") -> ToTensor -> Normalize, following torchvision 0.14 and Pillow 9.4; and
// open_clip's image_transform (eval), which varies the filter, the resize and the numbers.
#include <algorithm>
#include <bit>
#include <cmath>

#include "clip/error.h"
#include "clip/image.h"
#include "core/file.h"
#include "image/decoders.h"
#include "image/resample.h"

namespace clip {
namespace {

// Pillow's Image.resize(size, filter) for every mode, for a size that differs from the
// image's, followed by crop(window): only the window is computed.
Image resize_crop(const Image& in, int w, int h, const image::Window& window, image::Filter filter) {
  Image out(in.mode(), window.w, window.h);
  out.set_format(in.format());
  const int bands = in.bands();
  switch (in.mode()) {
    case ImageMode::P:
    case ImageMode::One: {  // Pillow forces NEAREST for these modes
      out.palette() = in.palette();
      const auto px = image::resample_nearest_u8(in.pixels().data(), in.width(), in.height(), 1, w, h, window);
      std::copy(px.begin(), px.end(), out.pixels().begin());
      return out;
    }
    case ImageMode::I16:
      throw Error("cannot resize a mode I;16 image (16-bit TIFF) to " + std::to_string(w) + "x" + std::to_string(h) +
                  ": the reference fails here too (ValueError: image has wrong mode)");
    case ImageMode::I: {
      const auto px = image::resample_i32(in.wide_pixels().data(), in.width(), in.height(), w, h, window, filter);
      std::copy(px.begin(), px.end(), out.wide_pixels().begin());
      return out;
    }
    case ImageMode::F: {
      std::vector<float> f(in.wide_pixels().size());
      std::transform(in.wide_pixels().begin(), in.wide_pixels().end(), f.begin(),
                     [](std::int32_t v) { return std::bit_cast<float>(v); });
      const auto px = image::resample_f32(f.data(), in.width(), in.height(), w, h, window, filter);
      std::transform(px.begin(), px.end(), out.wide_pixels().begin(),
                     [](float v) { return std::bit_cast<std::int32_t>(v); });
      return out;
    }
    case ImageMode::LA:
    case ImageMode::RGBA: {
      // Resized premultiplied ("La"/"RGBa"), then un-premultiplied.
      auto px = image::resample_u8(in.pixels().data(), in.width(), in.height(), bands, w, h, window, filter, true);
      const int alpha = bands - 1;
      for (std::size_t i = 0; i < px.size(); i += bands) {
        const int a = px[i + alpha];
        if (a == 0 || a == 255) continue;
        for (int c = 0; c < alpha; ++c) px[i + c] = static_cast<std::uint8_t>(std::min(255, 255 * px[i + c] / a));
      }
      std::copy(px.begin(), px.end(), out.pixels().begin());
      return out;
    }
    case ImageMode::PA:
      // Pillow resizes the index band like any level, and the resized image has a fresh
      // palette, its gray ramp (Resample.c copies none): the result reads as gray.
      for (int i = 0; i < 256; ++i) {
        const auto v = static_cast<std::uint8_t>(i);
        out.palette().push_back({v, v, v});
      }
      [[fallthrough]];
    default: {
      const auto px = image::resample_u8(in.pixels().data(), in.width(), in.height(), bands, w, h, window, filter);
      std::copy(px.begin(), px.end(), out.pixels().begin());
      return out;
    }
  }
}

// Python 3's round(d / 2.0): half to even.
int half_even_half(int d) {
  const int q = d / 2;
  return d % 2 == 0 || q % 2 == 0 ? q : q + 1;
}

// open_clip's ResizeKeepRatio(n, longest=1) then CenterCropOrPad(n, fill=0): the long side
// becomes n (sizes rounded half to even, as Python's round), the rest is padded with zeros
// as torchvision's pad does (zero samples; palette index 0 for mode P) and centred, the
// odd pixel going right and down.
Image longest_rgb(const Image& image, int n, image::Filter filter) {
  const int w = image.width_before_load(), h = image.height_before_load();  // as open_clip sees it
  const double ratio = std::max(static_cast<double>(h) / n, static_cast<double>(w) / n);
  const int new_w = std::max(1, static_cast<int>(std::nearbyint(w / ratio))),
            new_h = std::max(1, static_cast<int>(std::nearbyint(h / ratio)));
  const Image resized = new_w == image.width() && new_h == image.height()
                            ? image
                            : resize_crop(image, new_w, new_h, {0, 0, new_w, new_h}, filter);
  // The long side is n; should rounding leave a side over n, the centre crop takes it back.
  const int left = new_w < n ? (n - new_w) / 2 : -half_even_half(new_w - n),
            top = new_h < n ? (n - new_h) / 2 : -half_even_half(new_h - n);
  Image out(resized.mode(), n, n);
  out.palette() = resized.palette();
  const bool wide = !resized.wide_pixels().empty();
  const int bands = resized.bands();
  for (int y = std::max(0, top); y < std::min(n, top + new_h); ++y) {
    const int x0 = std::max(0, left), x1 = std::min(n, left + new_w);
    const std::size_t from = static_cast<std::size_t>(y - top) * new_w + (x0 - left),
                      to = static_cast<std::size_t>(y) * n + x0;
    if (wide)
      std::copy_n(resized.wide_pixels().begin() + from, x1 - x0, out.wide_pixels().begin() + to);
    else
      std::copy_n(resized.pixels().begin() + from * bands, (x1 - x0) * bands, out.pixels().begin() + to * bands);
  }
  return out.to_rgb();
}

// torchvision's Resize(n) with one size: the short side becomes n
// (_compute_resized_output_size), then CenterCrop(n)'s window.
struct ShortestSide {
  int new_w, new_h;
  image::Window crop;
};

ShortestSide shortest_side(int sw, int sh, int n_px) {
  const int short_side = std::min(sw, sh), long_side = std::max(sw, sh);
  const double scaled = static_cast<double>(n_px) * long_side / short_side;
  // The long side may become at most 2^24 pixels (74,898:1 at 224): only the crop is
  // computed, but coordinates stay within int.
  if (scaled > (1 << 24))
    throw Error("Preprocess: the image's aspect ratio (" + std::to_string(sw) + "x" + std::to_string(sh) +
                ") is beyond the " + std::to_string((1 << 24) / n_px) + ":1 that size " + std::to_string(n_px) +
                " can serve");
  const int new_long = static_cast<int>(scaled);
  const int new_w = sw <= sh ? n_px : new_long, new_h = sw <= sh ? new_long : n_px;
  return {new_w, new_h, {half_even_half(new_w - n_px), half_even_half(new_h - n_px), n_px, n_px}};
}

}  // namespace

Preprocess::Preprocess(int n_px) : Preprocess(PreprocessConfig{n_px}) {}

Preprocess::Preprocess(const PreprocessConfig& config) : config_(config) {
  if (config.size <= 0) throw Error("Preprocess: size must be positive, got " + std::to_string(config.size));
  if (config.interpolation != "bicubic" && config.interpolation != "bilinear")
    throw Error("Preprocess: interpolation '" + config.interpolation + "' is not supported (bicubic, bilinear)");
  if (config.resize_mode != "shortest" && config.resize_mode != "squash" && config.resize_mode != "longest")
    throw Error("Preprocess: resize_mode '" + config.resize_mode + "' is not supported (shortest, squash, longest)");
  for (float s : config.std)
    if (!(s > 0)) throw Error("Preprocess: std must be positive");
}

Image Preprocess::resize_crop_rgb(const Image& image) const {
  const int w = image.width(), h = image.height(), n_px = config_.size;
  if (w <= 0 || h <= 0) throw Error("Preprocess: the image is empty");
  const image::Filter filter = config_.interpolation == "bilinear" ? image::Filter::Bilinear : image::Filter::Bicubic;
  if (config_.resize_mode == "squash") {  // Resize((n, n)): no crop
    if (w == n_px && h == n_px) return image.to_rgb();
    return resize_crop(image, n_px, n_px, {0, 0, n_px, n_px}, filter).to_rgb();
  }
  if (config_.resize_mode == "longest") return longest_rgb(image, n_px, filter);
  // The size the image reports before it is loaded (see Image::width_before_load).
  const ShortestSide plan = shortest_side(image.width_before_load(), image.height_before_load(), n_px);
  // Pillow returns a copy when the size already fits; cropping the original is the same.
  if (plan.new_w == w && plan.new_h == h) return image.crop(plan.crop.x, plan.crop.y, n_px, n_px).to_rgb();
  return resize_crop(image, plan.new_w, plan.new_h, plan.crop, filter).to_rgb();
}

Tensor Preprocess::to_uint8_tensor(const Image& rgb) {
  if (rgb.mode() != ImageMode::RGB) throw Error("to_uint8_tensor: expected an RGB image");
  Tensor t({rgb.height(), rgb.width(), 3}, DType::UInt8);
  std::copy(rgb.pixels().begin(), rgb.pixels().end(), t.data<std::uint8_t>());
  return t;
}

Tensor Preprocess::to_float_tensor(const Image& rgb) { return to_float_tensor(rgb, kMean, kStd); }

Tensor Preprocess::to_float_tensor(const Image& rgb, const std::array<float, 3>& mean,
                                   const std::array<float, 3>& std) {
  if (rgb.mode() != ImageMode::RGB) throw Error("to_float_tensor: expected an RGB image");
  const int h = rgb.height(), w = rgb.width();
  Tensor t({3, h, w}, DType::Float32);
  float* out = t.data<float>();
  const std::uint8_t* px = rgb.pixels().data();
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  for (int c = 0; c < 3; ++c) {
    // Float32 operations in the reference's order: /255, -mean, /std (no reciprocals).
    float lut[256];
    for (int v = 0; v < 256; ++v) lut[v] = (static_cast<float>(v) / 255.0f - mean[c]) / std[c];
    for (std::size_t i = 0; i < plane; ++i) out[c * plane + i] = lut[px[i * 3 + c]];
  }
  return t;
}

Tensor Preprocess::operator()(const Image& image) const {
  return to_float_tensor(resize_crop_rgb(image), config_.mean, config_.std);
}

Tensor Preprocess::operator()(std::span<const std::uint8_t> data, std::string_view name,
                              const ImageOptions& options) const {
  const bool jpeg = data.size() >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
  if (!jpeg || config_.resize_mode != "shortest") return (*this)(Image::decode(data, name, options));
  // A JPEG decodes only the pixels the resize reads for the crop: a 1920x1080 photo at 224
  // px reads columns 412-1507, and 352-1555 are decoded (bench/preprocess_bench, medians:
  // decode + preprocess 6.0 -> 5.0 ms). The result is the same to the bit
  // (tests/image/jpeg_part_test.cpp).
  const image::Filter filter = config_.interpolation == "bilinear" ? image::Filter::Bilinear : image::Filter::Bicubic;
  const int n_px = config_.size;
  const image::DecodeContext ctx{name, options};
  const image::JpegPart part = image::decode_jpeg_part(data, ctx, [&](int w, int h) {
    const ShortestSide plan = shortest_side(w, h, n_px);
    if (plan.new_w == w && plan.new_h == h) return plan.crop;
    return image::source_window(w, h, plan.new_w, plan.new_h, plan.crop, filter);
  });
  const Image& held = part.image;
  const ShortestSide plan = shortest_side(part.width, part.height, n_px);
  if (plan.new_w == part.width && plan.new_h == part.height)
    return to_float_tensor(held.crop(plan.crop.x - part.held.x, plan.crop.y - part.held.y, n_px, n_px).to_rgb(),
                           config_.mean, config_.std);
  Image out(held.mode(), n_px, n_px);  // JPEGs open as L, RGB or CMYK: 8 bits, no alpha
  const auto px = image::resample_u8(held.pixels().data(), part.held, part.width, part.height, held.bands(), plan.new_w,
                                     plan.new_h, plan.crop, filter);
  std::copy(px.begin(), px.end(), out.pixels().begin());
  return to_float_tensor(out.to_rgb(), config_.mean, config_.std);
}

Tensor Preprocess::operator()(const std::filesystem::path& path, const ImageOptions& options) const {
  const std::vector<std::uint8_t> data = core::read_regular_file(path, "image", image::kMaxImageFileBytes);
  return (*this)(data, path.string(), options);
}

}  // namespace clip
