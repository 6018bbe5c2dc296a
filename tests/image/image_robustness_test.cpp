// Bad image input: every truncated copy of every fixture image, random bytes, empty and
// missing files, decompression bombs. Each must be a clip::Error, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "clip/image.h"
#include "image/decoders.h"
#include "test_data.h"

namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(ImageRobustness, TruncatedFixturesAreErrors) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/preprocess/images");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::vector<std::uint8_t> data = read_file(entry.path());
    ++files;
    for (double fraction : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99}) {
      const auto cut = static_cast<std::size_t>(data.size() * fraction);
      const std::span<const std::uint8_t> part(data.data(), cut);
      EXPECT_THROW(clip::Image::decode(part, entry.path().filename().string()), clip::Error)
          << entry.path().filename() << " cut at " << cut << " of " << data.size();
    }
  }
  EXPECT_GE(files, 25);
}

// The repository's format cases (tests/image/formats), cut anywhere and with bytes flipped:
// a clip::Error or an image, never a crash (ASan and UBSan run this too). Some cuts leave a
// complete image (an RLE stream longer than its image needs), so an image is allowed.
TEST(ImageRobustness, CutAndCorruptedFormatCases) {
  std::mt19937 rng(21);
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(CLIP_SOURCE_DIR) / "tests/image/formats/images")) {
    const std::vector<std::uint8_t> data = read_file(entry.path());
    ++files;
    const auto decode = [&](std::span<const std::uint8_t> bytes) {
      clip::ImageOptions small;  // a flipped size byte may ask for millions of pixels: refused
      small.max_pixels = 1 << 16;
      try {
        const clip::Image image = clip::Image::decode(bytes, entry.path().filename().string(), small);
        EXPECT_GT(image.width() * image.height(), 0);
      } catch (const clip::Error&) {
      }
    };
    for (std::size_t cut = 0; cut < data.size(); cut += 1 + data.size() / 64)
      decode(std::span<const std::uint8_t>(data.data(), cut));
    for (int i = 0; i < 64; ++i) {
      std::vector<std::uint8_t> bad = data;
      for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<std::uint8_t>(rng());
      decode(bad);
    }
  }
  EXPECT_GE(files, 20);
}

TEST(ImageRobustness, RandomBytesAreErrors) {
  std::mt19937 rng(42);
  for (const std::string_view magic :
       {"", "\xFF\xD8\xFF", "\x89PNG\r\n\x1A\n", "GIF89a", "BM", "II*\0", "RIFF\0\0\0\0WEBP"}) {
    for (int i = 0; i < 20; ++i) {
      std::vector<std::uint8_t> data(magic.begin(), magic.end());
      const std::size_t n = 1 + rng() % 2000;
      for (std::size_t k = 0; k < n; ++k) data.push_back(static_cast<std::uint8_t>(rng()));
      EXPECT_THROW(clip::Image::decode(data, "random"), clip::Error);
    }
  }
}

TEST(ImageRobustness, MissingAndEmptyFiles) {
  try {
    clip::Image::open("/nonexistent/cat.jpg");
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cat.jpg"), std::string::npos);
  }
  EXPECT_THROW(clip::Image::decode({}, "empty.png"), clip::Error);
}

TEST(ImageRobustness, PixelLimitIsCheckedBeforeDecoding) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/preprocess/images/scene_jpeg420_1920x1080.jpg");
  clip::ImageOptions options;
  options.max_pixels = 1920 * 1080 - 1;
  try {
    clip::Image::open(path, options);
    FAIL();
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("decompression bomb"), std::string::npos) << e.what();
  }
  options.max_pixels = 1920 * 1080;
  EXPECT_EQ(clip::Image::open(path, options).width(), 1920);
}

TEST(ImageRobustness, BombHeaderIsRefused) {
  // A PNG header claiming 100000 x 100000 pixels, with nothing after it.
  const std::uint8_t png[] = {0x89, 'P',  'N',  'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I',  'H',  'D',  'R', 0,
                              1,    0x86, 0xA0, 0,   1,    0x86, 0xA0, 8,    2, 0, 0, 0,  0x5C, 0x76, 0x3A, 0x8C};
  EXPECT_THROW(clip::Image::decode(png, "bomb.png"), clip::Error);
  // A BMP header claiming 100000 x 100000 pixels of RLE8, and a few bytes of it.
  std::vector<std::uint8_t> bmp = {'B', 'M',  0,    0,    0, 0,    0,    0,    0, 0, 54, 4, 0, 0, 40, 0, 0,
                                   0,   0xA0, 0x86, 0x01, 0, 0xA0, 0x86, 0x01, 0, 1, 0,  8, 0, 1, 0,  0, 0};
  bmp.resize(54 + 1024 + 4, 0);
  try {
    clip::Image::decode(bmp, "bomb.bmp");
    ADD_FAILURE() << "a BMP of 10^10 pixels decoded";
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("decompression bomb"), std::string::npos) << e.what();
  }
}

// The HEIC case with its image size ('ispe') rewritten: refused before libheif decodes.
TEST(ImageRobustness, HeifBombIsRefusedBeforeDecoding) {
  const auto formats = std::filesystem::path(CLIP_SOURCE_DIR) / "tests/image/formats/images";
  std::vector<std::uint8_t> heic = read_file(formats / "heic_rgb.heic");
  clip::ImageOptions tiny;
  tiny.max_pixels = 100;  // the file is 37x23
  try {
    clip::Image::decode(heic, "small.heic", tiny);
    ADD_FAILURE() << "a HEIC of 851 pixels decoded under a limit of 100";
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("decompression bomb"), std::string::npos) << e.what();
  }
  const std::string_view ispe("ispe");
  const auto at = std::search(heic.begin(), heic.end(), ispe.begin(), ispe.end());
  ASSERT_NE(at, heic.end());
  for (int i = 0; i < 8; ++i) at[8 + i] = i % 4 == 1 ? 0x01 : i % 4 == 2 ? 0x86 : i % 4 == 3 ? 0xA0 : 0;  // 100000
  EXPECT_THROW(clip::Image::decode(heic, "bomb.heic"), clip::Error);
}

// A 37x23 TIFF whose tiles claim 65520x65520 pixels (25 GB): refused, not allocated.
TEST(ImageRobustness, TiffTileBombIsRefused) {
  std::vector<std::uint8_t> tif =
      read_file(std::filesystem::path(CLIP_SOURCE_DIR) / "tests/image/formats/images/tiff_rgb16_tiled.tif");
  int patched = 0;
  for (std::size_t i = 8; i + 12 <= tif.size(); ++i)  // TileWidth/TileLength entries: SHORT 16
    if ((tif[i] == 0x42 || tif[i] == 0x43) && tif[i + 1] == 0x01 && tif[i + 2] == 3 && tif[i + 8] == 16) {
      tif[i + 8] = 0xF0, tif[i + 9] = 0xFF;
      ++patched;
    }
  ASSERT_EQ(patched, 2);
  EXPECT_THROW(clip::Image::decode(tif, "tiles.tif"), clip::Error);
}

// A JPEG 2000 codestream rewritten to 4000x4000 pixels in 1x1 tiles: OpenJPEG would
// allocate 16 million tile records on reading the header; refused first.
TEST(ImageRobustness, Jpeg2000TileBombIsRefused) {
  std::vector<std::uint8_t> j2k =
      read_file(std::filesystem::path(CLIP_SOURCE_DIR) / "tests/image/formats/images/j2k_rgb_tiled.j2k");
  ASSERT_GT(j2k.size(), 40u);
  const auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) j2k[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  };
  put32(8, 4000), put32(12, 4000), put32(16, 0), put32(20, 0);  // Xsiz, Ysiz, XOsiz, YOsiz
  put32(24, 1), put32(28, 1), put32(32, 0), put32(36, 0);       // XTsiz, YTsiz, XTOsiz, YTOsiz
  try {
    clip::Image::decode(j2k, "tiles.j2k");
    ADD_FAILURE() << "16 million tiles decoded";
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tiles"), std::string::npos) << e.what();
  }
}

// Each decoder on its own (as the fuzz targets call them, without the format detection that
// guarantees a magic number) refuses short and empty input cleanly: the JPEG 2000 box reader
// once read past the end of an empty buffer (found by fuzzing).
TEST(ImageRobustness, DecodersTakeShortInputDirectly) {
  const clip::ImageOptions options;
  const clip::image::DecodeContext ctx{"short", options};
  using Decoder = clip::Image (*)(clip::image::Bytes, const clip::image::DecodeContext&);
  const Decoder decoders[] = {clip::image::decode_jpeg,     clip::image::decode_png,  clip::image::decode_gif,
                              clip::image::decode_webp,     clip::image::decode_bmp,  clip::image::decode_ico,
                              clip::image::decode_cur,      clip::image::decode_tiff, clip::image::decode_ppm,
                              clip::image::decode_tga,      clip::image::decode_psd,  clip::image::decode_dds,
                              clip::image::decode_jpeg2000, clip::image::decode_heif};
  const std::uint8_t bytes[16] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A, 0, 0, 0, 1};
  for (const Decoder decode : decoders)
    for (std::size_t n : {0, 1, 4, 12, 16}) EXPECT_THROW(decode({bytes, n}, ctx), clip::Error) << n;
}

TEST(ImageExif, OrientationIsIgnoredUnlessAsked) {
  CLIP_REQUIRE_SHARED_FILE(path, "fixtures/preprocess/images/arrow_jpeg_exif6_300x200.jpg");
  const clip::Image stored = clip::Image::open(path);
  EXPECT_EQ(stored.width(), 300);
  clip::ImageOptions options;
  options.apply_exif_orientation = true;
  const clip::Image upright = clip::Image::open(path, options);
  ASSERT_EQ(upright.width(), 200);
  ASSERT_EQ(upright.height(), 300);
  // Orientation 6: the stored image is rotated 90 degrees clockwise to display it, so the
  // upright top-left pixel is the stored bottom-left one.
  for (int b = 0; b < 3; ++b)
    EXPECT_EQ(upright.pixels()[b], stored.pixels()[(static_cast<std::size_t>(199) * 300) * 3 + b]);
}

TEST(ImageConvert, ModesToRgbFollowPillow) {
  clip::Image cmyk(clip::ImageMode::CMYK, 1, 1);
  const std::uint8_t c[] = {10, 200, 0, 50};
  std::copy(std::begin(c), std::end(c), cmyk.pixels().begin());
  const clip::Image rgb = cmyk.to_rgb();
  // nk = 205; R = 205 - MULDIV255(10, 205) = 197; G = 205 - 161 = 44; B = 205
  EXPECT_EQ(rgb.pixels()[0], 197);
  EXPECT_EQ(rgb.pixels()[1], 44);
  EXPECT_EQ(rgb.pixels()[2], 205);

  clip::Image wide(clip::ImageMode::I, 2, 1);
  wide.wide_pixels()[0] = -5;
  wide.wide_pixels()[1] = 4000;
  EXPECT_EQ(wide.to_rgb().pixels()[0], 0);
  EXPECT_EQ(wide.to_rgb().pixels()[3], 255);
}

TEST(Preprocess, BatchesWithStack) {
  clip::Image red(clip::ImageMode::RGB, 300, 200);
  for (std::size_t i = 0; i < red.pixels().size(); i += 3) red.pixels()[i] = 255;
  const clip::Preprocess preprocess(32);
  const clip::Tensor batch = clip::stack({preprocess(red), preprocess(red)});
  EXPECT_EQ(batch.shape(), (clip::Tensor::Shape{2, 3, 32, 32}));
  EXPECT_FLOAT_EQ(batch.at<float>({1, 0, 5, 5}), (1.0f - 0.48145466f) / 0.26862954f);
  EXPECT_THROW(clip::Preprocess(0), clip::Error);
  EXPECT_THROW(clip::stack({}), clip::Error);
}

}  // namespace
