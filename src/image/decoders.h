// One decoder per file format; each returns the image as Pillow opens it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clip/image.h"
#include "image/resample.h"

namespace clip::image {

// The largest image file read (Image::open, Preprocess): more than any image within the
// pixel limit needs (an uncompressed RGBA BMP of 178,956,970 pixels is 716 MB).
constexpr std::uint64_t kMaxImageFileBytes = std::uint64_t{1} << 30;

struct DecodeContext {
  std::string_view name;  // file name for messages
  const ImageOptions& options;

  // "cannot decode NAME: what"
  [[noreturn]] void fail(const std::string& what) const;
  // Refuses sizes that are zero, or above options.max_pixels, before any pixel is decoded.
  void check_size(std::int64_t width, std::int64_t height) const;
};

using Bytes = std::span<const std::uint8_t>;

// Integers stored at byte `at` of `d`, whose bounds the caller has checked: little-endian
// (BMP, ICO, TGA) and big-endian (PNG, PSD).
inline std::uint16_t le16(Bytes d, std::size_t at) { return static_cast<std::uint16_t>(d[at] | (d[at + 1] << 8)); }
inline std::uint32_t le32(Bytes d, std::size_t at) {
  return d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (static_cast<std::uint32_t>(d[at + 3]) << 24);
}
inline std::uint16_t be16(Bytes d, std::size_t at) { return static_cast<std::uint16_t>((d[at] << 8) | d[at + 1]); }
inline std::uint32_t be32(Bytes d, std::size_t at) {
  return (static_cast<std::uint32_t>(d[at]) << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3];
}

// Pillow's palette past a file's last colour: what ImagingPaletteNew starts with, the gray
// ramp (i, i, i), up to 256 entries. Indices past the file's palette read these.
inline void pad_palette_with_gray_ramp(std::vector<std::array<std::uint8_t, 3>>& palette) {
  for (std::size_t i = palette.size(); i < 256; ++i) {
    const auto v = static_cast<std::uint8_t>(i);
    palette.push_back({v, v, v});
  }
}

Image decode_jpeg(Bytes data, const DecodeContext& ctx);
// Part of a JPEG: the pixels in wanted(width, height) (and a margin around them) exactly as
// decode_jpeg gives them there, for a caller that reads no others (Preprocess's resize and
// crop). The rest is entropy-decoded only (so truncated or corrupt files fail as they do
// whole) and skips the inverse DCT, upsampling and colour conversion: libjpeg-turbo's
// jpeg_crop_scanline and jpeg_skip_scanlines.
struct JpegPart {
  Image image;                // held.w x held.h
  Window held;                // where `image` lies in the full picture
  int width = 0, height = 0;  // the full picture
};
JpegPart decode_jpeg_part(Bytes data, const DecodeContext& ctx, const std::function<Window(int, int)>& wanted);
Image decode_png(Bytes data, const DecodeContext& ctx);
Image decode_gif(Bytes data, const DecodeContext& ctx);
Image decode_webp(Bytes data, const DecodeContext& ctx);
Image decode_bmp(Bytes data, const DecodeContext& ctx);
// The bitmap of a BMP file, an ICO or a CUR (Pillow's BmpImageFile._bitmap): the info
// header at byte `info`, the pixels at byte `offset` (0: right after the palette).
struct DibLayout {
  bool halve_height = false;  // icons: the rows of the AND mask follow the image's
  bool bgra = false;          // 32-bit pixels with alpha (Pillow: a .cur whose bitmap is at byte 22)
};
// `pixels_at`, when given, receives where the pixels were read from.
Image decode_dib(Bytes data, std::size_t info, std::size_t offset, const DibLayout& layout, const DecodeContext& ctx,
                 std::size_t* pixels_at = nullptr);
// ICO (the largest entry, PNG or bitmap + AND mask) and CUR (the largest cursor's bitmap).
// Without a complete directory of at least one entry Pillow passes the file on to the
// formats it tries next (a TGA can start with CUR's magic): `is_icon_directory` says so.
bool is_icon_directory(Bytes data);
Image decode_ico(Bytes data, const DecodeContext& ctx);
Image decode_cur(Bytes data, const DecodeContext& ctx);
Image decode_tiff(Bytes data, const DecodeContext& ctx);
// PBM/PGM/PPM: Pillow's PpmImagePlugin accepts "P" and one of "0123456y" as a start.
bool is_ppm(Bytes data);
Image decode_ppm(Bytes data, const DecodeContext& ctx);
// TGA: no magic number; a header Pillow's TgaImagePlugin accepts.
bool is_tga(Bytes data);
Image decode_tga(Bytes data, const DecodeContext& ctx);
// JPEG 2000: a JP2 file or a raw codestream (OpenJPEG).
bool is_jpeg2000(Bytes data);
Image decode_jpeg2000(Bytes data, const DecodeContext& ctx);
// DDS: DirectDraw Surface ("DDS ").
Image decode_dds(Bytes data, const DecodeContext& ctx);
// PSD: the merged image of a Photoshop file ("8BPS").
Image decode_psd(Bytes data, const DecodeContext& ctx);
// HEIC/HEIF and AVIF (libheif): an ISO-BMFF "ftyp" box of a brand libheif knows.
bool is_heif(Bytes data);
Image decode_heif(Bytes data, const DecodeContext& ctx);

// EXIF orientation (1..8) from a TIFF-structured EXIF block ("Exif\0\0" prefix allowed);
// 1 when absent or unreadable.
int exif_orientation(Bytes exif);
// Rotates/flips the image so that an EXIF orientation of 1 describes it.
Image apply_orientation(const Image& image, int orientation);

}  // namespace clip::image
