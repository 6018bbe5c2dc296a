// The hand-written PNG decoder on files made here: Adam7 interlacing, sub-byte depths,
// every row filter. The expected pixels are the ones encoded.
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>

#include "clip/image.h"

namespace {

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

void chunk(std::vector<std::uint8_t>& png, const char* type, const std::vector<std::uint8_t>& body) {
  put32(png, static_cast<std::uint32_t>(body.size()));
  std::vector<std::uint8_t> typed(type, type + 4);
  typed.insert(typed.end(), body.begin(), body.end());
  png.insert(png.end(), typed.begin(), typed.end());
  put32(png, static_cast<std::uint32_t>(crc32(0, typed.data(), static_cast<uInt>(typed.size()))));
}

// Encodes 8-bit samples (`channels` per pixel) at `depth` bits, optionally interlaced,
// cycling through the five row filters.
std::vector<std::uint8_t> encode_png(int w, int h, int color, int depth, bool interlaced,
                                     const std::vector<std::uint8_t>& samples, int channels,
                                     const std::vector<std::uint8_t>& palette = {}) {
  struct Pass {
    int x0, y0, dx, dy;
  };
  const std::vector<Pass> passes = interlaced
                                       ? std::vector<Pass>{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                                           {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
                                       : std::vector<Pass>{{0, 0, 1, 1}};
  const int bpp = std::max(1, depth * channels / 8);
  std::vector<std::uint8_t> raw;
  int filter = 0;
  for (const Pass& p : passes) {
    const int pw = (w - p.x0 + p.dx - 1) / p.dx, ph = (h - p.y0 + p.dy - 1) / p.dy;
    if (pw <= 0 || ph <= 0) continue;
    const std::size_t n = (static_cast<std::size_t>(pw) * depth * channels + 7) / 8;
    std::vector<std::uint8_t> prev(n, 0);
    for (int r = 0; r < ph; ++r) {
      std::vector<std::uint8_t> row(n, 0);
      for (int i = 0; i < pw; ++i)
        for (int c = 0; c < channels; ++c) {
          const int v = samples[((static_cast<std::size_t>(p.y0 + r * p.dy) * w) + p.x0 + i * p.dx) * channels + c];
          const std::size_t bit = (static_cast<std::size_t>(i) * channels + c) * depth;
          row[bit / 8] |= static_cast<std::uint8_t>((depth == 8 ? v : v >> (8 - depth)) << (8 - depth - bit % 8) % 8);
        }
      const int type = filter++ % 5;
      raw.push_back(static_cast<std::uint8_t>(type));
      for (std::size_t i = 0; i < n; ++i) {
        const int a = i >= static_cast<std::size_t>(bpp) ? row[i - bpp] : 0, b = r ? prev[i] : 0;
        const int c = i >= static_cast<std::size_t>(bpp) && r ? prev[i - bpp] : 0;
        int predictor = 0;
        if (type == 1) predictor = a;
        if (type == 2) predictor = b;
        if (type == 3) predictor = (a + b) / 2;
        if (type == 4) {
          const int pp = a + b - c, pa = std::abs(pp - a), pb = std::abs(pp - b), pc = std::abs(pp - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        raw.push_back(static_cast<std::uint8_t>(row[i] - predictor));
      }
      prev = row;
    }
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<std::uint8_t> z(size);
  compress2(z.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 6);
  z.resize(size);
  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  put32(ihdr, static_cast<std::uint32_t>(w));
  put32(ihdr, static_cast<std::uint32_t>(h));
  ihdr.insert(ihdr.end(), {static_cast<std::uint8_t>(depth), static_cast<std::uint8_t>(color), 0, 0,
                           static_cast<std::uint8_t>(interlaced)});
  chunk(png, "IHDR", ihdr);
  if (!palette.empty()) chunk(png, "PLTE", palette);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}

std::vector<std::uint8_t> pattern(int w, int h, int channels, int levels) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(w) * h * channels);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<std::uint8_t>(((i * 37 + i / 7) % levels) * (256 / levels));
  return v;
}

TEST(Png, InterlacedRgbDecodesToTheEncodedPixels) {
  for (auto [w, h] : {std::pair{13, 11}, std::pair{1, 1}, std::pair{3, 9}, std::pair{64, 5}}) {
    const auto rgb = pattern(w, h, 3, 256);
    for (bool interlaced : {false, true}) {
      const clip::Image image = clip::Image::decode(encode_png(w, h, 2, 8, interlaced, rgb, 3), "t.png");
      ASSERT_EQ(image.mode(), clip::ImageMode::RGB);
      EXPECT_TRUE(std::equal(rgb.begin(), rgb.end(), image.pixels().begin()))
          << w << "x" << h << " interlaced " << interlaced;
    }
  }
}

TEST(Png, SubBytePaletteAndGray) {
  const int w = 11, h = 7;
  const auto indices = pattern(w, h, 1, 16);  // multiples of 16: the top 4 bits carry the index
  std::vector<std::uint8_t> palette;
  for (int i = 0; i < 16; ++i)
    palette.insert(palette.end(), {static_cast<std::uint8_t>(i), 0, static_cast<std::uint8_t>(255 - i)});
  for (bool interlaced : {false, true}) {
    const clip::Image p = clip::Image::decode(encode_png(w, h, 3, 4, interlaced, indices, 1, palette), "p.png");
    ASSERT_EQ(p.mode(), clip::ImageMode::P);
    for (std::size_t i = 0; i < indices.size(); ++i) ASSERT_EQ(p.pixels()[i], indices[i] >> 4);
    const clip::Image g = clip::Image::decode(encode_png(w, h, 0, 4, interlaced, indices, 1), "g.png");
    ASSERT_EQ(g.mode(), clip::ImageMode::L);
    for (std::size_t i = 0; i < indices.size(); ++i) ASSERT_EQ(g.pixels()[i], (indices[i] >> 4) * 17);  // 4-bit scaled
  }
}

TEST(Png, CorruptionIsDetected) {
  auto png = encode_png(4, 4, 2, 8, false, pattern(4, 4, 3, 256), 3);
  png[40] ^= 0xFF;  // inside IDAT: the CRC no longer matches
  EXPECT_THROW(clip::Image::decode(png, "crc.png"), clip::Error);
}

}  // namespace
