// Preprocess's JPEG path decodes only the part of the picture that the resize and crop read
// (image::decode_jpeg_part): its tensor must equal, bit for bit, the one made from the whole
// decoded image, for every layout libjpeg-turbo treats differently at a part's edges
// (chroma subsampling and fancy upsampling, progressive block smoothing, restarts, gray,
// CMYK), every aspect ratio and size, and truncated files must still fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs size_t and FILE first
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include <jpeglib.h>

#include "clip/error.h"
#include "clip/image.h"
#include "image/decoders.h"

namespace {

struct Layout {
  int width = 0, height = 0;
  int components = 3;          // 1 gray, 3 YCbCr, 4 CMYK
  int h_samp = 1, v_samp = 1;  // the first component's; the others 1x1
  bool progressive = false;
  // Progressive files that stop early, so that libjpeg-turbo smooths the blocks: 1 = the DC
  // scan alone (DC values interpolated from two blocks around), 2 = AC 1-5 without their
  // low two bits (estimated from the next blocks).
  int partial_scans = 0;
  int restart_rows = 0;
  int quality = 90;
  int exif_orientation = 0;  // written as an APP1 marker when set
};

std::string describe(const Layout& l) {
  return std::to_string(l.width) + "x" + std::to_string(l.height) + " c" + std::to_string(l.components) + " " +
         std::to_string(l.h_samp) + "x" + std::to_string(l.v_samp) + (l.progressive ? " progressive" : "") +
         (l.partial_scans ? " partial" + std::to_string(l.partial_scans) : "") + " restart " +
         std::to_string(l.restart_rows) + " q" + std::to_string(l.quality);
}

// Smooth gradients with noise on top, so that every decoding step leaves its trace.
std::vector<std::uint8_t> picture(const Layout& l, std::mt19937& rng) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(l.width) * l.height * l.components);
  std::uniform_int_distribution<int> noise(-40, 40);
  for (int y = 0; y < l.height; ++y)
    for (int x = 0; x < l.width; ++x)
      for (int c = 0; c < l.components; ++c) {
        const int base = (x * (c + 1) * 7 + y * (3 - c % 3) * 5) % 256;
        px[(static_cast<std::size_t>(y) * l.width + x) * l.components + c] =
            static_cast<std::uint8_t>(std::clamp(base + noise(rng), 0, 255));
      }
  return px;
}

struct JpegError {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

std::vector<std::uint8_t> encode(const Layout& l, const std::vector<std::uint8_t>& px) {
  jpeg_compress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = [](j_common_ptr c) { std::longjmp(reinterpret_cast<JpegError*>(c->err)->jump, 1); };
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_create_compress(&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    return {};
  }
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(l.width);
  cinfo.image_height = static_cast<JDIMENSION>(l.height);
  cinfo.input_components = l.components;
  cinfo.in_color_space = l.components == 1 ? JCS_GRAYSCALE : l.components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, l.quality, TRUE);
  cinfo.comp_info[0].h_samp_factor = l.h_samp;
  cinfo.comp_info[0].v_samp_factor = l.v_samp;
  for (int c = 1; c < cinfo.num_components; ++c)
    cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  cinfo.restart_in_rows = l.restart_rows;
  std::vector<jpeg_scan_info> scans;
  if (l.progressive && !l.partial_scans) jpeg_simple_progression(&cinfo);
  if (l.partial_scans) {
    jpeg_scan_info dc{};
    dc.comps_in_scan = cinfo.num_components;
    for (int c = 0; c < cinfo.num_components; ++c) dc.component_index[c] = c;
    dc.Al = l.partial_scans == 1 ? 1 : 0;
    scans.push_back(dc);
    for (int c = 0; c < cinfo.num_components && l.partial_scans == 2; ++c) {
      jpeg_scan_info ac{};
      ac.comps_in_scan = 1;
      ac.component_index[0] = c;
      ac.Ss = 1;
      ac.Se = 5;
      ac.Al = 2;
      scans.push_back(ac);
    }
    cinfo.scan_info = scans.data();
    cinfo.num_scans = static_cast<int>(scans.size());
  }
  jpeg_start_compress(&cinfo, TRUE);
  if (l.exif_orientation) {
    // "Exif\0\0", a little-endian TIFF header, one IFD entry: Orientation (0x0112), SHORT.
    const std::uint8_t exif[] = {'E', 'x',  'i',  'f', 0,
                                 0,   'I',  'I',  42,  0,
                                 8,   0,    0,    0,   1,
                                 0,   0x12, 0x01, 3,   0,
                                 1,   0,    0,    0,   static_cast<std::uint8_t>(l.exif_orientation),
                                 0,   0,    0,    0,   0,
                                 0,   0};
    jpeg_write_marker(&cinfo, JPEG_APP0 + 1, exif, sizeof exif);
  }
  const std::size_t stride = static_cast<std::size_t>(l.width) * l.components;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<std::uint8_t*>(px.data()) + cinfo.next_scanline * stride;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<std::uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

clip::Preprocess preprocess(int size, const char* filter) {
  clip::PreprocessConfig config;
  config.size = size;
  config.interpolation = filter;
  return clip::Preprocess(config);
}

// The part path against the whole one: the same bits.
void expect_same(const std::vector<std::uint8_t>& jpeg, const clip::Preprocess& p, const std::string& what) {
  const clip::Tensor part = p(jpeg, "part.jpg");
  const clip::Tensor whole = p(clip::Image::decode(jpeg, "whole.jpg"));
  ASSERT_EQ(part.shape(), whole.shape()) << what;
  ASSERT_EQ(std::memcmp(part.data<float>(), whole.data<float>(), whole.nbytes()), 0) << what;
}

TEST(JpegPart, DecodesOnlyWhatTheCropReads) {
  // A 1920x1080 photo at 224 px reads the middle of each row: the part must be narrower,
  // or the other tests compare the whole path with itself.
  Layout l{1920, 1080};
  l.h_samp = l.v_samp = 2;
  std::mt19937 rng(1);
  const auto jpeg = encode(l, picture(l, rng));
  const clip::ImageOptions options;
  const clip::image::DecodeContext ctx{"scene.jpg", options};
  const auto part = clip::image::decode_jpeg_part(jpeg, ctx, [](int, int) {
    return clip::image::Window{800, 0, 100, 1080};
  });
  EXPECT_EQ(part.width, 1920);
  EXPECT_EQ(part.height, 1080);
  EXPECT_LE(part.held.x, 800 - 48);  // the margin: three 16-pixel iMCUs
  EXPECT_GE(part.held.x + part.held.w, 900 + 48);
  EXPECT_LT(part.held.w, 300);
  // And a portrait one skips rows above and below.
  const auto rows = clip::image::decode_jpeg_part(jpeg, ctx, [](int, int) {
    return clip::image::Window{0, 500, 1920, 10};
  });
  EXPECT_LT(rows.held.h, 200);
  // The wanted columns are the whole decode's (the part's own edges need not be).
  const clip::Image whole = clip::Image::decode(jpeg, "scene.jpg");
  for (int y = 0; y < 1080; y += 7)
    ASSERT_EQ(
        std::memcmp(part.image.pixels().data() + (static_cast<std::size_t>(y) * part.held.w + 800 - part.held.x) * 3,
                    whole.pixels().data() + (static_cast<std::size_t>(y) * 1920 + 800) * 3, 100 * 3),
        0)
        << "row " << y;
  expect_same(jpeg, preprocess(224, "bicubic"), describe(l));
}

TEST(JpegPart, EqualsTheWholeDecodeOnEveryLayout) {
  std::mt19937 rng(20261204);
  const int sampling[][2] = {{1, 1}, {2, 1}, {1, 2}, {2, 2}, {4, 1}, {1, 4}, {4, 2}, {3, 1}, {2, 3}};
  for (int i = 0; i < 160; ++i) {
    Layout l;
    const int shape = i % 4;
    std::uniform_int_distribution<int> side(1, 700), thin(1, 60), wide(700, 2400);
    if (shape == 0) l.width = side(rng), l.height = side(rng);
    if (shape == 1) l.width = wide(rng), l.height = side(rng) / 3 + 1;  // landscape
    if (shape == 2) l.width = side(rng) / 3 + 1, l.height = wide(rng);  // portrait
    if (shape == 3) {                                                   // long and thin, either way
      l.width = wide(rng), l.height = thin(rng);
      if (i % 8 == 3) std::swap(l.width, l.height);
    }
    const int kind = static_cast<int>(rng() % 10);
    l.components = kind == 0 ? 1 : kind == 1 ? 4 : 3;
    do {  // at most 10 blocks in an MCU
      const auto& s = sampling[rng() % std::size(sampling)];
      l.h_samp = s[0], l.v_samp = s[1];
    } while (l.h_samp * l.v_samp + l.components - 1 > 10);
    l.progressive = rng() % 2 == 0;
    l.partial_scans = l.progressive ? static_cast<int>(rng() % 3) : 0;
    l.restart_rows = rng() % 4 == 0 ? static_cast<int>(rng() % 3) + 1 : 0;
    l.quality = 60 + static_cast<int>(rng() % 40);
    const auto jpeg = encode(l, picture(l, rng));
    ASSERT_FALSE(jpeg.empty()) << describe(l);
    expect_same(jpeg, preprocess(224, "bicubic"), describe(l) + " at 224");
    const int n = 8 + static_cast<int>(rng() % 400);
    expect_same(jpeg, preprocess(n, i % 3 == 0 ? "bilinear" : "bicubic"), describe(l) + " at " + std::to_string(n));
  }
}

TEST(JpegPart, TruncatedFilesFailAsWhole) {
  // Portrait: the rows above and below the crop are the ones skipped.
  for (const bool progressive : {false, true}) {
    Layout l{300, 1400};
    l.h_samp = l.v_samp = 2;
    l.progressive = progressive;
    std::mt19937 rng(7);
    const auto jpeg = encode(l, picture(l, rng));
    for (const double keep : {0.15, 0.5, 0.9, 0.995}) {
      const std::vector<std::uint8_t> cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() * keep));
      const std::string what = (progressive ? "progressive, " : "baseline, ") + std::to_string(keep);
      EXPECT_THROW(clip::Image::decode(cut, "cut.jpg"), clip::Error) << what;
      EXPECT_THROW(preprocess(224, "bicubic")(cut, "cut.jpg"), clip::Error) << what;
    }
  }
}

TEST(JpegPart, FilesAndOrientationGoThroughTheSameRules) {
  Layout l{640, 200};
  std::mt19937 rng(3);
  const auto jpeg = encode(l, picture(l, rng));
  const auto path = std::filesystem::temp_directory_path() / "clip_jpeg_part_test.jpg";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(jpeg.data(), 1, jpeg.size(), f);
  std::fclose(f);
  const clip::Preprocess p(224);
  const clip::Tensor from_file = p(path), whole = p(clip::Image::open(path));
  std::filesystem::remove(path);
  EXPECT_EQ(std::memcmp(from_file.data<float>(), whole.data<float>(), whole.nbytes()), 0);
  // EXIF orientation, when asked for, turns the picture after decoding: the same result.
  l.exif_orientation = 6;
  const auto turned_jpeg = encode(l, picture(l, rng));
  clip::ImageOptions upright;
  upright.apply_exif_orientation = true;
  const clip::Tensor turned = p(turned_jpeg, "x.jpg", upright),
                     turned_whole = p(clip::Image::decode(turned_jpeg, "x.jpg", upright));
  EXPECT_EQ(clip::Image::decode(turned_jpeg, "x.jpg", upright).height(), 640);
  EXPECT_EQ(std::memcmp(turned.data<float>(), turned_whole.data<float>(), turned_whole.nbytes()), 0);
  // Errors name the file as Image::decode does.
  try {
    p(std::vector<std::uint8_t>{0xFF, 0xD8, 0xFF, 0xE0, 0, 0}, "broken.jpg");
    FAIL() << "no error";
  } catch (const clip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jpg"), std::string::npos) << e.what();
  }
}

}  // namespace
