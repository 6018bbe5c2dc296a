// PBM, PGM and PPM (Netpbm P1-P6, binary and plain text, and Pillow's P0CMYK), decoded by
// hand with the rules of Pillow 9.4's PpmImagePlugin (no Debian library reads them the way
// Pillow does: its own header tokenizer, maxval scaling with Python's round, 16-bit gray
// as mode I). Plain files are read as one block, as Pillow reads any under 1 MiB (it
// reads 1 MiB blocks; a comment or token across a block boundary is where we could differ).
#include <cmath>
#include <string>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

// bytes.isspace() / Pillow's b_whitespace (the same six bytes)
bool is_space(std::uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Python's int() of a token: an optional sign, then digits with single underscores
// between them. Anything else is an error, as Pillow's int(token) raises.
std::int64_t python_int(std::string_view t, const DecodeContext& ctx, const char* what) {
  std::size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
  std::int64_t value = 0;
  bool digit_before = false;
  if (i == t.size()) ctx.fail(std::string("invalid ") + what + " '" + std::string(t) + "'");
  for (; i < t.size(); ++i) {
    if (t[i] == '_' && digit_before && i + 1 < t.size() && t[i + 1] != '_') {
      digit_before = false;
      continue;
    }
    if (t[i] < '0' || t[i] > '9') ctx.fail(std::string("invalid ") + what + " '" + std::string(t) + "'");
    value = value * 10 + (t[i] - '0');  // at most 11 characters: no overflow
    digit_before = true;
  }
  return negative ? -value : value;
}

// PpmImageFile._read_token: whitespace before a token skipped, a '#' skips to the end of
// its line (and the token goes on after it), at most 10 characters.
std::string read_token(Bytes d, std::size_t& at, const DecodeContext& ctx) {
  std::string token;
  while (token.size() <= 10) {
    if (at >= d.size()) break;
    const std::uint8_t c = d[at++];
    if (is_space(c)) {
      if (token.empty()) continue;
      break;
    }
    if (c == '#') {
      while (at < d.size() && d[at] != '\r' && d[at] != '\n') ++at;
      if (at < d.size()) ++at;
      continue;
    }
    token.push_back(static_cast<char>(c));
  }
  if (token.empty()) ctx.fail("reached the end of the file while reading the PPM header");
  if (token.size() > 10) ctx.fail("token too long in the PPM header: " + token);
  return token;
}

// PpmPlainDecoder._ignore_comments on one block: each '#' up to and including the next CR
// or LF removed; a comment with no line end removes the rest.
std::string without_comments(Bytes d, std::size_t at) {
  std::string out;
  out.reserve(d.size() - at);
  while (at < d.size()) {
    if (d[at] != '#') {
      out.push_back(static_cast<char>(d[at++]));
      continue;
    }
    while (at < d.size() && d[at] != '\r' && d[at] != '\n') ++at;
    if (at < d.size()) ++at;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(static_cast<std::uint8_t>(s[i]))) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_space(static_cast<std::uint8_t>(s[i]))) ++i;
    if (i > start) tokens.push_back(s.substr(start, i - start));
  }
  return tokens;
}

// Python's round(value / maxval * out_max): IEEE doubles, halves to even.
std::int64_t scale(std::int64_t value, std::int64_t maxval, std::int64_t out_max) {
  return static_cast<std::int64_t>(
      std::nearbyint(static_cast<double>(value) / static_cast<double>(maxval) * static_cast<double>(out_max)));
}

}  // namespace

bool is_ppm(Bytes d) {
  return d.size() >= 2 && d[0] == 'P' &&
         std::string_view("0123456y").find(static_cast<char>(d[1])) != std::string::npos;
}

Image decode_ppm(Bytes d, const DecodeContext& ctx) {
  std::size_t at = 0;
  std::string magic;
  while (magic.size() < 6 && at < d.size()) {
    const std::uint8_t c = d[at++];
    if (is_space(c)) break;
    magic.push_back(static_cast<char>(c));
  }
  ImageMode mode;
  if (magic == "P1" || magic == "P4")
    mode = ImageMode::One;
  else if (magic == "P2" || magic == "P5")
    mode = ImageMode::L;
  else if (magic == "P3" || magic == "P6")
    mode = ImageMode::RGB;
  else if (magic == "P0CMYK")
    mode = ImageMode::CMYK;
  else
    ctx.fail("not a PPM file (magic '" + magic + "'; Pillow's test-only Py* variants are not read)");
  const bool plain = magic == "P1" || magic == "P2" || magic == "P3";

  const std::int64_t width = python_int(read_token(d, at, ctx), ctx, "width");
  const std::int64_t height = python_int(read_token(d, at, ctx), ctx, "height");
  std::int64_t maxval = 1;
  if (mode != ImageMode::One) {
    maxval = python_int(read_token(d, at, ctx), ctx, "maxval");
    if (maxval <= 0 || maxval >= 65536)
      ctx.fail("maxval " + std::to_string(maxval) + " (it must be greater than 0 and less than 65536)");
    if (maxval > 255 && mode == ImageMode::L) mode = ImageMode::I;
  }
  ctx.check_size(width, height);
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  Image image(mode, w, h);
  image.set_format("PPM");
  const std::size_t pixels = static_cast<std::size_t>(w) * h;
  const int bands = mode == ImageMode::I ? 1 : image.bands();
  const std::size_t samples = pixels * bands;
  const std::int64_t out_max = mode == ImageMode::I ? 65535 : 255;
  const auto put = [&](std::size_t i, std::int64_t value) {
    if (mode == ImageMode::I)
      image.wide_pixels()[i] = static_cast<std::int32_t>(value);
    else
      image.pixels()[i] = static_cast<std::uint8_t>(value);
  };

  if (plain) {
    const std::string text = without_comments(d, at);
    if (mode == ImageMode::One) {
      // Every byte that is not whitespace is a pixel, '1' black and '0' white; any other
      // byte in the block is an error, even past the last pixel.
      std::size_t i = 0;
      for (const char c : text) {
        if (is_space(static_cast<std::uint8_t>(c))) continue;
        if (c != '0' && c != '1') ctx.fail(std::string("invalid token for this mode: '") + c + "'");
        if (i < pixels) image.pixels()[i++] = c == '0' ? 255 : 0;
      }
      if (i < pixels) ctx.fail("not enough image data");
      return image;
    }
    const std::vector<std::string_view> tokens = split(text);
    if (!tokens.empty() && !text.empty() && !is_space(static_cast<std::uint8_t>(text.back())) &&
        tokens.back().size() > 10)
      ctx.fail("token too long in the PPM data: " + std::string(tokens.back().substr(0, 11)));
    std::size_t i = 0;
    for (const std::string_view token : tokens) {
      if (i == samples) break;
      if (token.size() > 10) ctx.fail("token too long in the PPM data: " + std::string(token.substr(0, 11)));
      const std::int64_t value = python_int(token, ctx, "sample");
      if (value > maxval) ctx.fail("channel value too large for this mode: " + std::to_string(value));
      if (value < 0) ctx.fail("negative channel value " + std::to_string(value));
      put(i++, scale(value, maxval, out_max));
    }
    if (i < samples) ctx.fail("not enough image data");
    return image;
  }

  const Bytes data = d.subspan(at);
  if (mode == ImageMode::One) {  // rows of bits, 1 = black
    const std::size_t row = (static_cast<std::size_t>(w) + 7) / 8;
    if (data.size() < row * h) ctx.fail("truncated PBM pixel data");
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        image.pixels()[static_cast<std::size_t>(y) * w + x] = (data[y * row + x / 8] >> (7 - x % 8)) & 1 ? 0 : 255;
    return image;
  }
  // maxval 255 (and 65535 for gray) are copied as they are; others scaled, rounded half to
  // even, and clipped (PpmDecoder).
  const int in_bytes = maxval < 256 ? 1 : 2;
  if (data.size() < samples * in_bytes) ctx.fail("truncated PPM pixel data");
  for (std::size_t i = 0; i < samples; ++i) {
    const std::int64_t v = in_bytes == 1 ? data[i] : (data[2 * i] << 8 | data[2 * i + 1]);
    const bool as_is = (maxval == 255 && in_bytes == 1) || (maxval == 65535 && mode == ImageMode::I);
    put(i, as_is ? v : std::min(out_max, scale(v, maxval, out_max)));
  }
  return image;
}

}  // namespace clip::image
