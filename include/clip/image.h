// Images as the reference sees them (PIL.Image.open) and the reference preprocess
// (torchvision Resize(n, BICUBIC), CenterCrop(n), convert("RGB"), ToTensor, Normalize),
// reproduced pixel for pixel.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clip/export.h"
#include "clip/tensor.h"

namespace clip {

// Pillow's image modes. 8-bit modes keep their bands interleaved; I and I16 keep one
// int32 per pixel.
enum class ImageMode {
  One,  // "1": bilevel, stored as 0 or 255
  L,    // 8-bit gray
  LA,   // gray + alpha
  P,    // palette indices (see Image::palette)
  RGB,
  RGBA,
  CMYK,
  I,    // 32-bit signed gray (16-bit PNGs and PGMs, signed or 32-bit TIFFs open this way)
  I16,  // "I;16": 16-bit gray (16-bit TIFFs open this way)
  PA,   // palette index + alpha (palette TIFFs with alpha)
  F,    // 32-bit float gray (float TIFFs)
  LAB,  // CIE L*a*b*, 8 bits each, a and b offset by 128 (Lab TIFFs and PSDs open this way)
};
CLIP_API const char* mode_name(ImageMode mode);  // "1", "L", ..., "I;16"

struct CLIP_API ImageOptions {
  // Like the reference, EXIF orientation is ignored unless asked for; when set, JPEG and
  // WebP/PNG images with an EXIF Orientation tag are rotated/flipped upright. (TIFF's own
  // Orientation tag is always applied: Pillow 9.4 does so when it loads a TIFF.)
  bool apply_exif_orientation = false;
  // Pillow's decompression-bomb guard: images with more pixels are refused before their
  // pixels are decoded. 0 disables the check.
  std::int64_t max_pixels = 178956970;
};

class CLIP_API Image {
 public:
  Image() = default;
  // A zero-filled image.
  Image(ImageMode mode, int width, int height);

  // Wraps existing 8-bit pixels (width*height*bands bytes, bands interleaved, row-major),
  // e.g. an RGB buffer from another library. A size mismatch is a clip::Error.
  static Image from_pixels(ImageMode mode, int width, int height, std::vector<std::uint8_t> pixels);

  // Decodes JPEG, PNG, GIF, WebP, BMP, ICO/CUR, TIFF, PBM/PGM/PPM, TGA, PSD, DDS, JPEG 2000, HEIC/HEIF and AVIF,
  // found by content (README, "image formats": the mode each opens as). Every failure
  // (missing file, truncated or corrupt data, unsupported format, too many pixels) is a
  // clip::Error naming the file.
  static Image open(const std::filesystem::path& path, const ImageOptions& options = {});
  static Image decode(std::span<const std::uint8_t> data, std::string_view name = "<memory>",
                      const ImageOptions& options = {});

  int width() const { return width_; }
  int height() const { return height_; }
  ImageMode mode() const { return mode_; }
  const std::string& format() const { return format_; }  // "JPEG", "PNG", ... ("" if built)
  int bands() const;                                     // samples per pixel

  // 8-bit modes: width*height*bands() bytes, row-major, bands interleaved.
  std::span<std::uint8_t> pixels() { return pixels_; }
  std::span<const std::uint8_t> pixels() const { return pixels_; }
  // Modes I, I16 and F: width*height values (F: each float's bits, std::bit_cast<float>).
  std::span<std::int32_t> wide_pixels() { return wide_; }
  std::span<const std::int32_t> wide_pixels() const { return wide_; }
  // Modes P and PA: the colours of the indices (missing entries read as black).
  std::vector<std::array<std::uint8_t, 3>>& palette() { return palette_; }
  const std::vector<std::array<std::uint8_t, 3>>& palette() const { return palette_; }

  // Pillow's convert("RGB") (no alpha compositing, naive CMYK, I clipped to 0..255).
  Image to_rgb() const;
  // A copy of the region [left, left+w) x [top, top+h), which must lie inside the image.
  Image crop(int left, int top, int w, int h) const;

  void set_format(std::string format) { format_ = std::move(format); }

  // The size Pillow reports before it decodes the pixels, where that is not the decoded
  // size: a TIFF with Orientation 5-8 is turned on load, after torchvision's Resize took
  // its output size from the unturned one, so the reference squashes it (and so do we).
  int width_before_load() const { return before_load_w_ ? before_load_w_ : width_; }
  int height_before_load() const { return before_load_h_ ? before_load_h_ : height_; }
  void set_size_before_load(int w, int h) { before_load_w_ = w, before_load_h_ = h; }

 private:
  ImageMode mode_ = ImageMode::RGB;
  int width_ = 0, height_ = 0;
  int before_load_w_ = 0, before_load_h_ = 0;
  std::string format_;
  std::vector<std::uint8_t> pixels_;
  std::vector<std::int32_t> wide_;
  std::vector<std::array<std::uint8_t, 3>> palette_;
};

// The reference's `_transform(n_px)`.
// The transform's settings: OpenAI's _transform(size) by default; open_clip's eval
// transform with its preprocess_cfg otherwise (image_transform in open_clip/transform.py).
struct CLIP_API PreprocessConfig {
  int size = 224;
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
  // Pillow's filter: "bicubic" or "bilinear" (modes P and 1 always use NEAREST, as Pillow).
  std::string interpolation = "bicubic";
  // "shortest": the short side becomes `size`, then the centre crop; "squash": resized to
  // size x size, the aspect ratio not kept, no crop; "longest": the long side becomes
  // `size`, then zero padding to size x size, centred.
  std::string resize_mode = "shortest";
};

class CLIP_API Preprocess {
 public:
  static constexpr std::array<float, 3> kMean{0.48145466f, 0.4578275f, 0.40821073f};
  static constexpr std::array<float, 3> kStd{0.26862954f, 0.26130258f, 0.27577711f};

  explicit Preprocess(int n_px = 224);
  explicit Preprocess(const PreprocessConfig& config);  // clip::Error for values it does not know
  int size() const { return config_.size; }
  const PreprocessConfig& config() const { return config_; }

  // float32 [3, n_px, n_px], normalised. Batch with clip::stack({...}).
  Tensor operator()(const Image& image) const;
  // Decode and preprocess in one step: the same tensor as (*this)(Image::decode(...)), but
  // a JPEG decodes only the pixels that the resize and crop read.
  Tensor operator()(std::span<const std::uint8_t> data, std::string_view name = "<memory>",
                    const ImageOptions& options = {}) const;
  Tensor operator()(const std::filesystem::path& path, const ImageOptions& options = {}) const;
  // The RGB image just before ToTensor: Resize, CenterCrop (unless squashed) and
  // convert("RGB").
  Image resize_crop_rgb(const Image& image) const;
  // uint8 [n_px, n_px, 3] of resize_crop_rgb, and the float tensor made from it (with
  // OpenAI's mean and std, or the ones given).
  static Tensor to_uint8_tensor(const Image& rgb);
  static Tensor to_float_tensor(const Image& rgb);
  static Tensor to_float_tensor(const Image& rgb, const std::array<float, 3>& mean, const std::array<float, 3>& std);

 private:
  PreprocessConfig config_;
};

}  // namespace clip
