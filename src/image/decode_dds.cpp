// DDS (DirectDraw Surface) by Pillow 9.4's DdsImagePlugin: the first surface, uncompressed
// (luminance, RGB(A) by channel masks, DX10 R8G8B8A8) or block-compressed BC1-BC5 as its
// BcnDecode.c decodes them (integer interpolation, BC2/BC3 colours always four-colour), or
// BC6H/BC7 (bptc.h).
#include <cstring>
#include <string>

#include "image/bptc.h"
#include "image/decoders.h"

namespace clip::image {
namespace {

Rgba decode_565(unsigned v) {
  int r = (v & 0xf800) >> 8, g = (v & 0x7e0) >> 3, b = (v & 0x1f) << 3;
  r |= r >> 5, g |= g >> 6, b |= b >> 5;
  return {static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(b), 255};
}

// BC1 colours; BC2 and BC3 blocks always take the four-colour branch (`separate_alpha`).
void bc1_colours(Block& out, Bytes src, bool separate_alpha) {
  const unsigned c0 = le16(src, 0), c1 = le16(src, 2);
  const std::uint32_t lut = le32(src, 4);
  Rgba p[4] = {decode_565(c0), decode_565(c1), {}, {}};
  for (int c = 0; c < 3; ++c) {
    const int a = p[0][c], b = p[1][c];
    if (c0 > c1 || separate_alpha) {
      p[2][c] = static_cast<std::uint8_t>((2 * a + b) / 3);
      p[3][c] = static_cast<std::uint8_t>((a + 2 * b) / 3);
    } else {
      p[2][c] = static_cast<std::uint8_t>((a + b) / 2);
      p[3][c] = 0;
    }
  }
  p[2][3] = 255;
  p[3][3] = c0 > c1 || separate_alpha ? 255 : 0;
  for (int n = 0; n < 16; ++n) out[n] = p[(lut >> (2 * n)) & 3];
}

// BC3's alpha block (also BC4 and each BC5 channel) into channel `channel` of `out`;
// `sign`: BC5S's signed end points, mapped as (v + 255) / 2.
void bc3_alpha(Block& out, Bytes src, int channel, bool sign) {
  const int a0 = sign ? (static_cast<std::int8_t>(src[0]) + 255) / 2 : src[0],
            a1 = sign ? (static_cast<std::int8_t>(src[1]) + 255) / 2 : src[1];
  std::uint8_t a[8] = {static_cast<std::uint8_t>(a0), static_cast<std::uint8_t>(a1)};
  if (a0 > a1) {
    for (int k = 1; k <= 6; ++k) a[k + 1] = static_cast<std::uint8_t>(((7 - k) * a0 + k * a1) / 7);
  } else {
    for (int k = 1; k <= 4; ++k) a[k + 1] = static_cast<std::uint8_t>(((5 - k) * a0 + k * a1) / 5);
    a[6] = 0, a[7] = 255;
  }
  const std::uint32_t lut1 = src[2] | (src[3] << 8) | (src[4] << 16), lut2 = src[5] | (src[6] << 8) | (src[7] << 16);
  for (int n = 0; n < 8; ++n) {
    out[n][channel] = a[(lut1 >> (3 * n)) & 7];
    out[8 + n][channel] = a[(lut2 >> (3 * n)) & 7];
  }
}

}  // namespace

Image decode_dds(Bytes data, const DecodeContext& ctx) {
  if (data.size() < 8 || le32(data, 4) != 124) ctx.fail("unsupported DDS header size (the reference fails too)");
  if (data.size() < 128) ctx.fail("truncated DDS header");
  const std::uint32_t height = le32(data, 12), width = le32(data, 16), pf_flags = le32(data, 80);
  const std::string fourcc(reinterpret_cast<const char*>(data.data()) + 84, 4);
  const std::uint32_t masks[4] = {le32(data, 92), le32(data, 96), le32(data, 100), le32(data, 104)};
  constexpr std::uint32_t kAlphaPixels = 0x1, kRgb = 0x40, kLuminance = 0x20000;  // DDPF_* flags
  std::size_t start = 128;
  // What the pixels are: raw bytes in this order of bands, or BCn blocks of kind `bcn`.
  ImageMode mode = ImageMode::RGBA;
  std::string raw;  // bands per raw pixel: "L", "LA", "BGR", "BGRA", ...
  int bcn = 0;
  bool is_signed = false;  // BC5S, BC6H_SF16
  if (pf_flags & kLuminance) {
    mode = pf_flags & kAlphaPixels ? ImageMode::LA : ImageMode::L;
    raw = pf_flags & kAlphaPixels ? "LA" : "L";
  } else if (pf_flags & kRgb) {
    // Pillow maps each mask to its band ("RGBA" by position, the last equal mask winning)
    // and reads the bands of the masks 0xFF000000 (with alpha), 0xFF0000, 0xFF00, 0xFF
    // from the last byte to the first: a rawmode of 3 or 4 bytes a pixel.
    const auto band = [&](std::uint32_t mask) {
      char found = 0;
      for (int i = 0; i < 4; ++i)
        if (masks[i] == mask) found = "RGBA"[i];
      if (!found) ctx.fail("DDS channel masks without one of 0xFF << 8k (the reference fails too)");
      return found;
    };
    if (pf_flags & kAlphaPixels) raw += band(0xFF000000u);
    raw += band(0xFF0000), raw += band(0xFF00), raw += band(0xFF);
    raw = std::string(raw.rbegin(), raw.rend());
    mode = raw.size() == 4 ? ImageMode::RGBA : ImageMode::RGB;
    if (raw != "RGB" && raw != "BGR" && raw != "RGBA" && raw != "BGRA" && raw != "ARGB" && raw != "ABGR")
      ctx.fail("DDS channel order " + raw + ": no such raw mode in the reference either");
  } else if (fourcc == "DXT1") {
    bcn = 1;
  } else if (fourcc == "DXT3") {
    bcn = 2;
  } else if (fourcc == "DXT5") {
    bcn = 3;
  } else if (fourcc == "ATI1") {
    bcn = 4, mode = ImageMode::L;
  } else if (fourcc == "ATI2" || fourcc == "BC5S") {
    bcn = 5, mode = ImageMode::RGB, is_signed = fourcc == "BC5S";
  } else if (fourcc == "DX10") {
    if (data.size() < 148) ctx.fail("truncated DDS DX10 header");
    start = 148;
    const std::uint32_t dxgi = le32(data, 128);
    if (dxgi == 82 || dxgi == 83)  // BC5_TYPELESS, BC5_UNORM
      bcn = 5, mode = ImageMode::RGB;
    else if (dxgi == 84)  // BC5_SNORM
      bcn = 5, mode = ImageMode::RGB, is_signed = true;
    else if (dxgi == 95 || dxgi == 96)  // BC6H_UF16, BC6H_SF16
      bcn = 6, mode = ImageMode::RGB, is_signed = dxgi == 96;
    else if (dxgi >= 97 && dxgi <= 99)  // BC7 TYPELESS, UNORM, UNORM_SRGB (Pillow: gamma only noted)
      bcn = 7;
    else if (dxgi >= 27 && dxgi <= 29)  // R8G8B8A8 TYPELESS, UNORM, UNORM_SRGB
      raw = "RGBA";
    else
      ctx.fail("DDS of DXGI format " + std::to_string(dxgi) + ": the reference (Pillow 9.4) cannot read it either");
  } else {
    ctx.fail("DDS pixel format '" + fourcc + "': the reference (Pillow 9.4) cannot read it either");
  }
  ctx.check_size(width, height);

  Image image(mode, static_cast<int>(width), static_cast<int>(height));
  const int bands = image.bands();
  auto px = image.pixels();
  const Bytes body = data.subspan(start);
  if (!raw.empty()) {
    const std::size_t n = static_cast<std::size_t>(width) * height, step = raw.size();
    if (body.size() / step < n) ctx.fail("truncated DDS pixel data");
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < step; ++k) {
        const char b = raw[k];
        const int c = b == 'L' || b == 'R' ? 0 : b == 'G' ? 1 : b == 'B' ? 2 : bands - 1;  // 'A': the last band
        px[i * bands + c] = body[i * step + k];
      }
    image.set_format("DDS");
    return image;
  }
  const std::size_t block_bytes = bcn == 1 || bcn == 4 ? 8 : 16, bw = (width + 3) / 4, bh = (height + 3) / 4;
  if (body.size() / block_bytes < bw * bh) ctx.fail("truncated DDS block data");
  for (std::size_t by = 0; by < bh; ++by)
    for (std::size_t bx = 0; bx < bw; ++bx) {
      const Bytes src = body.subspan((by * bw + bx) * block_bytes, block_bytes);
      Block block{};
      if (bcn == 1) {
        bc1_colours(block, src, false);
      } else if (bcn == 2) {  // explicit 4-bit alpha, scaled by 17
        bc1_colours(block, src.subspan(8), true);
        for (int n = 0; n < 16; ++n) {
          const int v = (src[n / 2] >> (4 * (n % 2))) & 0xf;
          block[n][3] = static_cast<std::uint8_t>(v << 4 | v);
        }
      } else if (bcn == 3) {
        bc1_colours(block, src.subspan(8), true);
        bc3_alpha(block, src, 3, false);
      } else if (bcn == 4) {
        bc3_alpha(block, src, 0, false);
      } else if (bcn == 5) {
        bc3_alpha(block, src, 0, is_signed);
        bc3_alpha(block, src.subspan(8), 1, is_signed);
      } else if (bcn == 6) {
        decode_bc6h_block(src.first<16>(), is_signed, block);
      } else {
        decode_bc7_block(src.first<16>(), block);
      }
      for (std::size_t j = 0; j < 4; ++j)
        for (std::size_t i = 0; i < 4; ++i) {
          const std::size_t x = bx * 4 + i, y = by * 4 + j;
          if (x < width && y < height)
            std::memcpy(&px[(y * width + x) * bands], block[j * 4 + i].data(), static_cast<std::size_t>(bands));
        }
    }
  image.set_format("DDS");
  return image;
}

}  // namespace clip::image
