#include "image/resample.h"

#include "image/resample_simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace clip::image {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's precompute_coeffs for one axis, for output indices [first_out, first_out + n):
// for each, the first source index, the number of taps, and `ksize` normalised weights.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<double> weights;  // out_size * ksize
};

Coefficients precompute(int in_size, int out_size, int first_out, int n, Filter filter) {
  const double filter_support = filter == Filter::Bicubic ? 2.0 : 1.0;
  double (*const f)(double) = filter == Filter::Bicubic ? bicubic : bilinear;
  Coefficients c;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter_support * filterscale;
  // Pillow's ksize, rounded up to a multiple of 4 so that SIMD code can always take four
  // taps at a time (the extra weights are zero).
  c.ksize = (static_cast<int>(std::ceil(support)) * 2 + 1 + 3) & ~3;
  c.first.resize(n);
  c.count.resize(n);
  c.weights.assign(static_cast<std::size_t>(n) * c.ksize, 0.0);
  for (int i = 0; i < n; ++i) {
    const int xx = first_out + i;
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double* k = &c.weights[static_cast<std::size_t>(i) * c.ksize];
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = f((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    c.first[i] = xmin;
    c.count[i] = xmax;
  }
  return c;
}

// normalize_coeffs_8bpc: weights in fixed point, rounded half away from zero.
std::vector<std::int32_t> fixed_point(const Coefficients& c) {
  std::vector<std::int32_t> k(c.weights.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    const double w = c.weights[i] * (1 << kPrecisionBits);
    k[i] = static_cast<std::int32_t>(c.weights[i] < 0 ? w - 0.5 : w + 0.5);
  }
  return k;
}

inline std::uint8_t clip8(std::int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

// Pillow's ROUND_UP: half away from zero, cast to int. A bicubic overshoot past the int
// range (mode I near +-2^31) is undefined behaviour in C; Pillow's x86-64 builds give INT_MIN
// (cvttsd2si's "integer indefinite"), and so do we, defined.
inline std::int32_t round_half_away(double v) {
  const double r = v >= 0.0 ? v + 0.5 : v - 0.5;
  if (!(r > -2147483649.0 && r < 2147483648.0)) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(r);
}

// Horizontal pass: for each output pixel, the weighted sum of `count` neighbouring source
// pixels, all bands at once. `Pixel` int32 (mode I), float (F) or uint8; Bands known at compile time.
template <int Bands, typename Pixel, typename Weight, typename Store>
void horizontal_pass_bands(const Pixel* in, int in_w, int rows, const Coefficients& c, const Weight* k, Pixel* out,
                           int out_w, Store store) {
  for (int y = 0; y < rows; ++y) {
    const Pixel* row = in + static_cast<std::size_t>(y) * in_w * Bands;
    Pixel* dst = out + static_cast<std::size_t>(y) * out_w * Bands;
    for (int xx = 0; xx < out_w; ++xx) {
      const Weight* kk = k + static_cast<std::size_t>(xx) * c.ksize;
      const Pixel* src = row + static_cast<std::size_t>(c.first[xx]) * Bands;
      decltype(store.init()) acc[Bands];
      for (int b = 0; b < Bands; ++b) acc[b] = store.init();
      for (int x = 0; x < c.count[xx]; ++x)
        for (int b = 0; b < Bands; ++b) acc[b] += src[x * Bands + b] * kk[x];
      for (int b = 0; b < Bands; ++b) dst[xx * Bands + b] = store(acc[b]);
    }
  }
}

// Vertical pass: each output row is a weighted sum of `count` source rows; the inner loop
// runs along the row, which vectorises.
void vertical_u8(const std::uint8_t* in, std::size_t row_len, const Coefficients& c, const std::int32_t* k,
                 std::uint8_t* out, int out_h) {
  if (vertical_u8_simd(in, row_len,
                       {c.first.data(), c.count.data(), c.ksize, reinterpret_cast<const std::uint32_t*>(k)}, out,
                       out_h))
    return;
  std::vector<std::uint32_t> acc(row_len);  // unsigned: wrap-around sums are exact and defined
  for (int yy = 0; yy < out_h; ++yy) {
    const std::int32_t* kk = k + static_cast<std::size_t>(yy) * c.ksize;
    std::fill(acc.begin(), acc.end(), 1u << (kPrecisionBits - 1));
    for (int y = 0; y < c.count[yy]; ++y) {
      const std::uint8_t* src = in + (static_cast<std::size_t>(c.first[yy]) + y) * row_len;
      const auto w = static_cast<std::uint32_t>(kk[y]);
      for (std::size_t i = 0; i < row_len; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out + static_cast<std::size_t>(yy) * row_len;
    for (std::size_t i = 0; i < row_len; ++i) {
      const auto v = static_cast<std::int32_t>(acc[i]);
      dst[i] = static_cast<std::uint8_t>(v <= 0 ? 0 : v >= (255 << kPrecisionBits) ? 255 : v >> kPrecisionBits);
    }
  }
}

template <typename Pixel, typename Store>
void vertical_wide(const Pixel* in, std::size_t row_len, const Coefficients& c, const double* k, Pixel* out, int out_h,
                   Store store) {
  std::vector<double> acc(row_len);
  for (int yy = 0; yy < out_h; ++yy) {
    const double* kk = k + static_cast<std::size_t>(yy) * c.ksize;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int y = 0; y < c.count[yy]; ++y) {
      const Pixel* src = in + (static_cast<std::size_t>(c.first[yy]) + y) * row_len;
      for (std::size_t i = 0; i < row_len; ++i) acc[i] += src[i] * kk[y];  // tap order kept
    }
    Pixel* dst = out + static_cast<std::size_t>(yy) * row_len;
    for (std::size_t i = 0; i < row_len; ++i) dst[i] = store(acc[i]);
  }
}

struct StoreI32 {
  double init() const { return 0.0; }
  std::int32_t operator()(double acc) const { return round_half_away(acc); }
};

struct StoreF32 {  // Pillow's IMAGING_PIXEL_F(out) = ss: the double sum rounded to float
  double init() const { return 0.0; }
  float operator()(double acc) const { return static_cast<float>(acc); }
};

struct StoreU32 {  // 8-bit fixed point, summed in unsigned arithmetic (exact, no UB)
  std::uint32_t init() const { return 1u << (kPrecisionBits - 1); }
  std::uint8_t operator()(std::uint32_t acc) const { return clip8(static_cast<std::int32_t>(acc)); }
};

void horizontal_u8(const std::uint8_t* in, int in_w, int rows, int bands, const Coefficients& c, const std::int32_t* k,
                   std::uint8_t* out, int out_w) {
  const auto* uk = reinterpret_cast<const std::uint32_t*>(k);
  switch (bands) {
    case 1: return horizontal_pass_bands<1>(in, in_w, rows, c, uk, out, out_w, StoreU32{});
    case 2: return horizontal_pass_bands<2>(in, in_w, rows, c, uk, out, out_w, StoreU32{});
    default:
      if (horizontal_u8_simd(in, in_w, rows, bands, {c.first.data(), c.count.data(), c.ksize, uk}, out, out_w)) return;
      if (bands == 3) return horizontal_pass_bands<3>(in, in_w, rows, c, uk, out, out_w, StoreU32{});
      return horizontal_pass_bands<4>(in, in_w, rows, c, uk, out, out_w, StoreU32{});
  }
}

// Rows [y, y + h) and columns [x, x + w) of a w_all-wide image with `bands` channels.
template <typename Pixel>
std::vector<Pixel> crop_rows(const Pixel* in, int w_all, int bands, const Window& win) {
  std::vector<Pixel> out(static_cast<std::size_t>(win.w) * win.h * bands);
  for (int y = 0; y < win.h; ++y)
    std::copy_n(in + (static_cast<std::size_t>(win.y + y) * w_all + win.x) * bands,
                static_cast<std::size_t>(win.w) * bands,
                out.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(y) * win.w * bands));
  return out;
}

// ImagingResampleInner: horizontal then vertical, each only when that size changes; the
// horizontal pass only produces the source rows the vertical pass reads, and both only the
// window's columns and rows.
// `held` is the part of the in_w x in_h source that `in` holds (row-major, held.w wide);
// it must contain source_window(...).
template <typename Pixel, typename Horizontal, typename Vertical>
std::vector<Pixel> resample(const Pixel* in, const Window& held, int in_w, int in_h, int bands, int out_w, int out_h,
                            const Window& win, Filter filter, Horizontal horizontal, Vertical vertical) {
  const bool need_h = out_w != in_w, need_v = out_h != in_h;
  if (!need_h && !need_v) return crop_rows(in, held.w, bands, {win.x - held.x, win.y - held.y, win.w, win.h});
  Coefficients horiz = precompute(in_w, out_w, win.x, win.w, filter);
  Coefficients vert = precompute(in_h, out_h, win.y, win.h, filter);
  for (int& f : horiz.first) f -= held.x;
  for (int& f : vert.first) f -= held.y;

  std::vector<Pixel> temp;
  const Pixel* src = in;
  int width = held.w;
  if (need_h) {
    const int first_row = need_v ? vert.first[0] : win.y - held.y;
    const int last_row = need_v ? vert.first[win.h - 1] + vert.count[win.h - 1] : win.y - held.y + win.h;
    for (int& f : vert.first) f -= first_row;
    const int rows = last_row - first_row;
    temp.resize(static_cast<std::size_t>(win.w) * rows * bands);
    horizontal(first_row, rows, horiz, temp.data(), win.w);
    if (!need_v) return temp;
    src = temp.data();
    width = win.w;
  }
  std::vector<Pixel> out(static_cast<std::size_t>(width) * win.h * bands);
  vertical(src, static_cast<std::size_t>(width) * bands, vert, out.data(), win.h);
  // Without a horizontal pass the vertical one ran over the held columns.
  return need_h ? out : crop_rows(out.data(), width, bands, {win.x - held.x, 0, win.w, win.h});
}

// Pillow's convert("RGBa") / convert("La") of `n` pixels: colour times alpha, MULDIV255.
void premultiply(const std::uint8_t* in, std::uint8_t* out, std::size_t n, int bands) {
  if (bands == 4 && premultiply_rgba_simd(in, out, n)) return;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t a = in[i * bands + bands - 1];
    for (int c = 0; c < bands - 1; ++c) {
      const std::uint32_t t = in[i * bands + c] * a + 128;
      out[i * bands + c] = static_cast<std::uint8_t>(((t >> 8) + t) >> 8);
    }
    out[i * bands + bands - 1] = static_cast<std::uint8_t>(a);
  }
}

// Pillow's NEAREST affine scale: the source coordinate is accumulated, not recomputed, so
// the indices of [first, first + n) are found by running the sum from 0 (no memory for the
// ones before).
std::vector<int> nearest_indices(int in_size, int out_size, int first, int n) {
  std::vector<int> idx(n);
  const double s = static_cast<double>(in_size) / out_size;
  double pos = s * 0.5;
  for (int i = 0; i < first + n; ++i) {
    if (i >= first) idx[i - first] = std::min(static_cast<int>(pos), in_size - 1);
    pos += s;
  }
  return idx;
}

}  // namespace

Window source_window(int in_w, int in_h, int out_w, int out_h, const Window& window, Filter filter) {
  // One axis: the taps of every wanted output index, or the indices themselves when that
  // size does not change (no pass along it).
  const auto span = [&](int in_size, int out_size, int first, int n) {
    if (in_size == out_size) return std::pair{first, first + n};
    const Coefficients c = precompute(in_size, out_size, first, n, filter);
    int lo = in_size, hi = 0;
    for (int i = 0; i < n; ++i) {
      lo = std::min(lo, c.first[i]);
      hi = std::max(hi, c.first[i] + c.count[i]);
    }
    return std::pair{lo, std::max(lo, hi)};
  };
  const auto [x0, x1] = span(in_w, out_w, window.x, window.w);
  const auto [y0, y1] = span(in_h, out_h, window.y, window.h);
  return {x0, y0, x1 - x0, y1 - y0};
}

std::vector<std::uint8_t> resample_u8(const std::uint8_t* in, int in_w, int in_h, int bands, int out_w, int out_h,
                                      const Window& window, Filter filter, bool premultiplied_alpha) {
  return resample_u8(in, {0, 0, in_w, in_h}, in_w, in_h, bands, out_w, out_h, window, filter, premultiplied_alpha);
}

std::vector<std::uint8_t> resample_u8(const std::uint8_t* in, const Window& held, int in_w, int in_h, int bands,
                                      int out_w, int out_h, const Window& window, Filter filter,
                                      bool premultiplied_alpha) {
  const int held_w = held.w;
  const std::size_t row_len = static_cast<std::size_t>(held_w) * bands;
  std::vector<std::uint8_t> whole;  // premultiplied copy, when only the vertical pass runs
  if (premultiplied_alpha && out_w == in_w) {
    whole.resize(row_len * held.h);
    premultiply(in, whole.data(), static_cast<std::size_t>(held_w) * held.h, bands);
    in = whole.data();
    premultiplied_alpha = false;
  }
  return resample(
      in, held, in_w, in_h, bands, out_w, out_h, window, filter,
      [&](int first_row, int rows, const Coefficients& c, std::uint8_t* dst, int dst_w) {
        const std::vector<std::int32_t> k = fixed_point(c);
        if (!premultiplied_alpha) {
          horizontal_u8(in + first_row * row_len, held_w, rows, bands, c, k.data(), dst, dst_w);
          return;
        }
        // Premultiply a block of rows at a time, so the copy stays in cache.
        constexpr int kBlock = 32;
        std::vector<std::uint8_t> block(row_len * kBlock);
        for (int r = 0; r < rows; r += kBlock) {
          const int n = std::min(kBlock, rows - r);
          premultiply(in + (first_row + r) * row_len, block.data(), static_cast<std::size_t>(held_w) * n, bands);
          horizontal_u8(block.data(), held_w, n, bands, c, k.data(), dst + static_cast<std::size_t>(r) * dst_w * bands,
                        dst_w);
        }
      },
      [](const std::uint8_t* src, std::size_t len, const Coefficients& c, std::uint8_t* dst, int dst_h) {
        vertical_u8(src, len, c, fixed_point(c).data(), dst, dst_h);
      });
}

std::vector<std::int32_t> resample_i32(const std::int32_t* in, int in_w, int in_h, int out_w, int out_h,
                                       const Window& window, Filter filter) {
  return resample(
      in, {0, 0, in_w, in_h}, in_w, in_h, 1, out_w, out_h, window, filter,
      [&](int first_row, int rows, const Coefficients& c, std::int32_t* dst, int dst_w) {
        horizontal_pass_bands<1>(in + static_cast<std::size_t>(first_row) * in_w, in_w, rows, c, c.weights.data(), dst,
                                 dst_w, StoreI32{});
      },
      [](const std::int32_t* src, std::size_t len, const Coefficients& c, std::int32_t* dst, int dst_h) {
        vertical_wide(src, len, c, c.weights.data(), dst, dst_h, StoreI32{});
      });
}

std::vector<float> resample_f32(const float* in, int in_w, int in_h, int out_w, int out_h, const Window& window,
                                Filter filter) {
  return resample(
      in, {0, 0, in_w, in_h}, in_w, in_h, 1, out_w, out_h, window, filter,
      [&](int first_row, int rows, const Coefficients& c, float* dst, int dst_w) {
        horizontal_pass_bands<1>(in + static_cast<std::size_t>(first_row) * in_w, in_w, rows, c, c.weights.data(), dst,
                                 dst_w, StoreF32{});
      },
      [](const float* src, std::size_t len, const Coefficients& c, float* dst, int dst_h) {
        vertical_wide(src, len, c, c.weights.data(), dst, dst_h, StoreF32{});
      });
}

std::vector<std::uint8_t> resample_nearest_u8(const std::uint8_t* in, int in_w, int in_h, int bands, int out_w,
                                              int out_h, const Window& window) {
  const std::vector<int> xs = nearest_indices(in_w, out_w, window.x, window.w),
                         ys = nearest_indices(in_h, out_h, window.y, window.h);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(window.w) * window.h * bands);
  for (int y = 0; y < window.h; ++y)
    for (int x = 0; x < window.w; ++x)
      for (int b = 0; b < bands; ++b)
        out[(static_cast<std::size_t>(y) * window.w + x) * bands + b] =
            in[(static_cast<std::size_t>(ys[y]) * in_w + xs[x]) * bands + b];
  return out;
}

}  // namespace clip::image
