// JPEG 2000 (.jp2 boxes or a raw .j2k codestream) through OpenJPEG, as Pillow 9.4 reads it
// (Jpeg2KImagePlugin.py for the mode and size, Jpeg2KDecode.c for the pixels): decoded tile
// by tile with OpenJPEG's tile API (so JP2 palettes and channel definitions stay unapplied,
// as there), each sample brought to 8 bits (16 for I;16) by Pillow's shifts and offsets, sYCC
// (and the subsampled layouts Pillow takes for it) converted by Pillow's YCbCr-to-RGB rule.
#include <openjpeg.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "image/decoders.h"

namespace clip::image {
namespace {

struct Stream {
  Bytes data;
  std::size_t pos = 0;
};

OPJ_SIZE_T read_fn(void* buffer, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<Stream*>(user);
  if (s->pos >= s->data.size()) return static_cast<OPJ_SIZE_T>(-1);
  n = std::min<OPJ_SIZE_T>(n, s->data.size() - s->pos);
  std::memcpy(buffer, s->data.data() + s->pos, n);
  s->pos += n;
  return n;
}
OPJ_OFF_T skip_fn(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<Stream*>(user);
  const auto to = std::min<std::size_t>(s->data.size(), s->pos + static_cast<std::size_t>(std::max<OPJ_OFF_T>(n, 0)));
  const OPJ_OFF_T skipped = static_cast<OPJ_OFF_T>(to - s->pos);
  s->pos = to;
  return skipped;
}
void on_error(const char* msg, void* user) {
  auto* last = static_cast<std::string*>(user);
  *last = msg;
  while (!last->empty() && last->back() == '\n') last->pop_back();
}
void ignore(const char*, void*) {}

struct Header {
  int width = 0, height = 0;
  ImageMode mode = ImageMode::L;
  bool jp2 = false;
  std::size_t codestream = 0;  // where the codestream starts (JP2: the jp2c box's contents)
};

// Jpeg2KImagePlugin's _parse_codestream / _parse_jp2_header: size and mode from the SIZ
// marker or the ihdr box (one component deeper than 8 bits: I;16).
Header parse_header(Bytes d, const DecodeContext& ctx) {
  Header h;
  const auto mode_of = [&](unsigned components, bool deep) {
    if (components == 1) return deep ? ImageMode::I16 : ImageMode::L;
    if (components == 2) return ImageMode::LA;
    if (components == 3) return ImageMode::RGB;
    if (components == 4) return ImageMode::RGBA;
    ctx.fail("JPEG 2000 with " + std::to_string(components) + " components: the reference cannot read it either");
  };
  if (d.size() >= 4 && be32(d, 0) == 0xFF4FFF51) {
    if (d.size() < 4 + 38 + 3) ctx.fail("truncated JPEG 2000 SIZ marker");
    const std::uint32_t xsiz = be32(d, 8), ysiz = be32(d, 12), xo = be32(d, 16), yo = be32(d, 20);
    const unsigned components = be16(d, 40);
    if (d.size() < 42 + 3 * std::size_t{components}) ctx.fail("truncated JPEG 2000 SIZ marker");
    h.width = static_cast<int>(static_cast<std::int64_t>(xsiz) - xo);
    h.height = static_cast<int>(static_cast<std::int64_t>(ysiz) - yo);
    h.mode = mode_of(components, (d[42] & 0x7F) > 8);
    return h;
  }
  h.jp2 = true;
  // Boxes: length (1: a 64-bit one follows; 0: to the end), type, contents.
  const auto box = [&](std::size_t at, std::size_t end, std::string& type, std::size_t& body, std::size_t& next) {
    if (at > end || end - at < 8) return false;
    std::uint64_t length = be32(d, at);
    type.assign(reinterpret_cast<const char*>(d.data()) + at + 4, 4);
    body = at + 8;
    if (length == 1) {
      if (end - at < 16) return false;
      length = (std::uint64_t{be32(d, at + 8)} << 32) | be32(d, at + 12);
      body = at + 16;
    } else if (length == 0) {
      length = end - at;
    }
    if (length < body - at || length > end - at) return false;
    next = at + static_cast<std::size_t>(length);
    return true;
  };
  std::string type;
  std::size_t at = 12, body = 0, next = 0;
  bool header_found = false;
  while (box(at, d.size(), type, body, next)) {
    if (type == "jp2h") {
      for (std::size_t in = body, in_body = 0, in_next = 0; box(in, next, type, in_body, in_next); in = in_next)
        if (type == "ihdr" && in_next - in_body >= 11) {
          h.height = static_cast<int>(std::min<std::uint32_t>(be32(d, in_body), 1u << 30));
          h.width = static_cast<int>(std::min<std::uint32_t>(be32(d, in_body + 4), 1u << 30));
          h.mode = mode_of(be16(d, in_body + 8), (d[in_body + 10] & 0x7F) > 8);
          header_found = true;
        }
    } else if (type == "jp2c") {
      h.codestream = body;
    }
    if (type == "jp2c" || next == at) break;
    at = next;
  }
  if (!header_found) ctx.fail("malformed JP2 header (no ihdr box; the reference fails too)");
  return h;
}

// OpenJPEG allocates per tile when it reads the header: a few pixels of many tiles would be
// a memory bomb. Legitimate files have a handful of tiles.
void check_tiles(Bytes d, std::size_t codestream, const DecodeContext& ctx) {
  if (d.size() < codestream + 42 || be32(d, codestream) != 0xFF4FFF51) return;
  const Bytes siz = d.subspan(codestream + 4);
  const std::uint64_t xsiz = be32(siz, 4), ysiz = be32(siz, 8), xt = be32(siz, 20), yt = be32(siz, 24),
                      xto = be32(siz, 28), yto = be32(siz, 32);
  if (xt == 0 || yt == 0 || xto > xsiz || yto > ysiz) return;  // OpenJPEG refuses these itself
  const std::uint64_t tiles = ((xsiz - xto + xt - 1) / xt) * ((ysiz - yto + yt - 1) / yt);
  if (tiles > (1u << 16)) ctx.fail("JPEG 2000 of " + std::to_string(tiles) + " tiles (more than 65536 are refused)");
}

struct Component {
  int shift = 0, offset = 0, bytes = 1;  // Pillow's j2ku_* arithmetic
  unsigned dx = 1, dy = 1;
};

Component component(const opj_image_comp_t& c, int target_bits) {
  Component k;
  const int prec = static_cast<int>(c.prec);
  k.shift = target_bits - prec;
  k.offset = c.sgnd ? 1 << (prec - 1) : 0;
  k.bytes = (prec + 7) >> 3;
  if (k.bytes == 3) k.bytes = 4;
  if (k.shift < 0) k.offset += 1 << (-k.shift - 1);
  k.dx = c.dx, k.dy = c.dy;
  return k;
}

std::uint32_t word(const std::uint8_t* p, int bytes) {
  if (bytes == 1) return p[0];
  if (bytes == 2) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  }
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

unsigned shifted(std::uint32_t v, int shift) { return shift < 0 ? v >> -shift : v << shift; }

// ImagingConvertYCbCr2RGB (Pillow's ConvertYCbCr.c): R = Y + 1.402 (Cr - 128), G = Y - 0.34414
// (Cb - 128) - 0.71414 (Cr - 128), B = Y + 1.772 (Cb - 128), in steps of 1/64 from tables
// of (int)(coefficient * 64 * (v - 128) + 0.5), floored by the shift, clamped.
struct YccTables {
  std::int16_t r_cr[256], g_cb[256], g_cr[256], b_cb[256];
};
constexpr YccTables make_ycc_tables() {
  YccTables t{};
  for (int v = 0; v < 256; ++v) {
    const auto entry = [v](double coefficient) {
      return static_cast<std::int16_t>(coefficient * 64 * (v - 128) + 0.5);
    };
    t.r_cr[v] = entry(1.40200), t.g_cb[v] = entry(-0.34414), t.g_cr[v] = entry(-0.71414), t.b_cb[v] = entry(1.77200);
  }
  return t;
}
void ycc_to_rgb(std::uint8_t* px) {
  static constexpr YccTables t = make_ycc_tables();
  const int y = px[0], cb = px[1], cr = px[2];
  const auto clamp = [](int v) { return static_cast<std::uint8_t>(v <= 0 ? 0 : v >= 255 ? 255 : v); };
  px[0] = clamp(y + (t.r_cr[cr] >> 6));
  px[1] = clamp(y + ((t.g_cb[cb] + t.g_cr[cr]) >> 6));
  px[2] = clamp(y + (t.b_cb[cb] >> 6));
}

struct CodecDeleter {
  void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
  void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};

}  // namespace

bool is_jpeg2000(Bytes data) {
  static constexpr std::uint8_t jp2[] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
  return (data.size() >= 4 && be32(data, 0) == 0xFF4FFF51) ||
         (data.size() >= 12 && std::memcmp(data.data(), jp2, 12) == 0);
}

Image decode_jpeg2000(Bytes data, const DecodeContext& ctx) {
  const Header header = parse_header(data, ctx);
  ctx.check_size(header.width, header.height);
  check_tiles(data, header.codestream, ctx);

  Stream source{data};
  std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(1 << 16, OPJ_TRUE));
  opj_stream_set_user_data(stream.get(), &source, nullptr);
  opj_stream_set_user_data_length(stream.get(), data.size());
  opj_stream_set_read_function(stream.get(), read_fn);
  opj_stream_set_skip_function(stream.get(), skip_fn);
  // No seek function, as in Pillow: OpenJPEG then skips the checks that need one.
  std::unique_ptr<opj_codec_t, CodecDeleter> codec(opj_create_decompress(header.jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
  std::string last_error;
  opj_set_error_handler(codec.get(), on_error, &last_error);
  opj_set_warning_handler(codec.get(), ignore, nullptr);
  opj_set_info_handler(codec.get(), ignore, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  opj_setup_decoder(codec.get(), &params);
  const auto fail = [&](const std::string& what) {
    ctx.fail(what + (last_error.empty() ? "" : " (" + last_error + ")"));
  };
  opj_image_t* raw_image = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &raw_image)) fail("corrupt JPEG 2000 header");
  const std::unique_ptr<opj_image_t, ImageDeleter> image(raw_image);
  const unsigned n = image->numcomps;
  if (n < 1 || n > 4) fail("JPEG 2000 with " + std::to_string(n) + " components: the reference cannot read it either");

  // Jpeg2KDecode.c: which component is subsampled first, the colour space it implies when
  // unspecified, and the unpacker for (mode, colour space, components). Pillow reads the
  // colour space right after opj_read_header, where OpenJPEG up to 2.5.0 (the reference's,
  // bundled with Pillow 9.4; Debian 12's) has not set it yet: always unspecified, so the
  // components alone decide, whatever a JP2 colour box says. OpenJPEG 2.5.1 sets it there
  // (its commit "opj_jp2_read_header(): move setting color_space here", issue 570; Debian
  // 13's 2.5.3 gives 1, 2 or 3 for our sRGB, gray and sYCC JP2 cases, 2.5.0 gives 0), which is
  // not used: a JP2 tagged sYCC without subsampling is read as sRGB, as by the reference.
  int subsampled = -1;
  for (unsigned c = 0; c < n && subsampled < 0; ++c)
    if (image->comps[c].dx != 1 || image->comps[c].dy != 1) subsampled = static_cast<int>(c);
  const OPJ_COLOR_SPACE space = n <= 2                                 ? OPJ_CLRSPC_GRAY
                                : (subsampled == 1 || subsampled == 2) ? OPJ_CLRSPC_SYCC
                                                                       : OPJ_CLRSPC_SRGB;
  const ImageMode mode = header.mode;
  enum class Unpack { None, GrayL, GrayI, GrayRgb, GrayaLa, SrgbRgb, SrgbaRgba, SyccRgb, SyccaRgba };
  Unpack unpack = Unpack::None;
  const bool whole = subsampled == -1;
  if (space == OPJ_CLRSPC_GRAY && whole) {
    if (n == 1 && mode == ImageMode::L) unpack = Unpack::GrayL;
    if (n == 1 && mode == ImageMode::I16) unpack = Unpack::GrayI;
    if (n == 2 && mode == ImageMode::LA) unpack = Unpack::GrayaLa;
    if (n <= 2 && mode == ImageMode::RGB) unpack = Unpack::GrayRgb;
    if (n == 1 && mode == ImageMode::RGBA) unpack = Unpack::GrayRgb;
    if (n == 2 && mode == ImageMode::RGBA) unpack = Unpack::GrayaLa;
  } else if (space == OPJ_CLRSPC_SRGB) {
    if (n >= 3 && mode == ImageMode::RGB) unpack = Unpack::SrgbRgb;
    if (n == 3 && mode == ImageMode::RGBA) unpack = Unpack::SrgbRgb;
    if (n == 4 && mode == ImageMode::RGBA) unpack = Unpack::SrgbaRgba;
  } else if (space == OPJ_CLRSPC_SYCC) {
    if (n >= 3 && mode == ImageMode::RGB) unpack = Unpack::SyccRgb;
    if (n == 3 && mode == ImageMode::RGBA) unpack = Unpack::SyccRgb;
    if (n == 4 && mode == ImageMode::RGBA) unpack = Unpack::SyccaRgba;
  }
  if (unpack == Unpack::None) fail("JPEG 2000 whose components do not fit its mode: the reference fails too");
  // Pillow's pixels: 4 bytes for every mode but L (1) and I;16 (2); alpha of RGB is 255,
  // of an RGBA made from 3 components (srgb_rgb) also 255.
  Image out(mode, header.width, header.height);
  const int bands = out.bands();
  auto px = out.pixels();
  auto wide = out.wide_pixels();
  std::vector<std::uint8_t> buffer;
  for (;;) {
    OPJ_UINT32 index = 0, data_size = 0, count = 0;
    OPJ_INT32 x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    OPJ_BOOL more = OPJ_FALSE;
    if (!opj_read_tile_header(codec.get(), stream.get(), &index, &data_size, &x0, &y0, &x1, &y1, &count, &more))
      fail("corrupt JPEG 2000 tile header");
    if (!more) break;
    if (x0 >= x1 || y0 >= y1 || x0 < 0 || y0 < 0 || static_cast<OPJ_UINT32>(x0) < image->x0 ||
        static_cast<OPJ_UINT32>(y0) < image->y0 || static_cast<std::int64_t>(x1) - image->x0 > header.width ||
        static_cast<std::int64_t>(y1) - image->y0 > header.height || count != n)
      fail("JPEG 2000 tile outside the image");
    const std::size_t w = static_cast<std::size_t>(x1 - x0), h = static_cast<std::size_t>(y1 - y0);
    std::size_t sample_bytes = 0;
    Component comps[4];
    for (unsigned c = 0; c < n; ++c) {
      comps[c] = component(image->comps[c], mode == ImageMode::I16 ? 16 : 8);
      sample_bytes += static_cast<std::size_t>(comps[c].bytes);
    }
    // Bounded by the image size checked above.
    const std::size_t size = std::max<std::size_t>(data_size, w * h * sample_bytes);
    if (buffer.size() < size) buffer.assign(size, 0);  // Pillow zero-fills only when it grows
    if (!opj_decode_tile_data(codec.get(), index, buffer.data(), static_cast<OPJ_UINT32>(buffer.size()), stream.get()))
      fail("corrupt JPEG 2000 tile data");
    const std::size_t ox = static_cast<std::size_t>(x0) - image->x0, oy = static_cast<std::size_t>(y0) - image->y0,
                      width = static_cast<std::size_t>(header.width);
    // Where each component's samples start: Pillow steps by bytes * (w / dx) * (h / dy).
    const std::uint8_t* start[4];
    for (unsigned c = 0, at = 0; c < n; ++c) {
      start[c] = buffer.data() + at;
      at += static_cast<unsigned>(comps[c].bytes * (w / comps[c].dx) * (h / comps[c].dy));
    }
    const auto sample = [&](unsigned c, std::size_t x, std::size_t y) {
      const Component& k = comps[c];
      const std::uint8_t* p = start[c] + k.bytes * ((y / k.dy) * (w / k.dx) + x / k.dx);
      return shifted(k.offset + word(p, k.bytes), k.shift);
    };
    for (std::size_t y = 0; y < h; ++y)
      for (std::size_t x = 0; x < w; ++x) {
        const std::size_t i = (oy + y) * width + ox + x;
        switch (unpack) {
          case Unpack::GrayI: wide[i] = static_cast<std::uint16_t>(sample(0, x, y)); break;
          case Unpack::GrayL: px[i] = static_cast<std::uint8_t>(sample(0, x, y)); break;
          case Unpack::GrayRgb:
            for (int c = 0; c < 3; ++c) px[i * bands + c] = static_cast<std::uint8_t>(sample(0, x, y));
            if (bands == 4) px[i * 4 + 3] = 255;
            break;
          case Unpack::GrayaLa: {
            const auto l = static_cast<std::uint8_t>(sample(0, x, y)), a = static_cast<std::uint8_t>(sample(1, x, y));
            if (bands == 2) {
              px[i * 2] = l, px[i * 2 + 1] = a;
            } else {
              px[i * 4] = px[i * 4 + 1] = px[i * 4 + 2] = l, px[i * 4 + 3] = a;
            }
            break;
          }
          case Unpack::SrgbRgb:
            for (unsigned c = 0; c < 3; ++c) px[i * bands + c] = static_cast<std::uint8_t>(sample(c, x, y));
            if (bands == 4) px[i * 4 + 3] = 255;
            break;
          case Unpack::SrgbaRgba:
            for (unsigned c = 0; c < 4; ++c) px[i * 4 + c] = static_cast<std::uint8_t>(sample(c, x, y));
            break;
          case Unpack::SyccRgb:
          case Unpack::SyccaRgba:
            for (unsigned c = 0; c < 3; ++c) px[i * bands + c] = static_cast<std::uint8_t>(sample(c, x, y));
            ycc_to_rgb(&px[i * bands]);
            if (bands == 4)
              px[i * 4 + 3] = unpack == Unpack::SyccaRgba ? static_cast<std::uint8_t>(sample(3, x, y)) : 255;
            break;
          case Unpack::None: break;
        }
      }
  }
  if (!opj_end_decompress(codec.get(), stream.get())) fail("corrupt JPEG 2000 data");
  out.set_format("JPEG2000");
  return out;
}

}  // namespace clip::image
