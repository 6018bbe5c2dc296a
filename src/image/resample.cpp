#include "image/resample.h"

#include <algorithm>
#include <cmath>

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

// Pillow's precompute_coeffs for one axis: for each output index, the first source index,
// the number of taps, and `ksize` normalised weights.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<double> weights;  // out_size * ksize
};

Coefficients precompute(int in_size, int out_size) {
  constexpr double kSupport = 2.0;
  Coefficients c;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = kSupport * filterscale;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<std::size_t>(out_size) * c.ksize, 0.0);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double* k = &c.weights[static_cast<std::size_t>(xx) * c.ksize];
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    c.first[xx] = xmin;
    c.count[xx] = xmax;
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

inline std::int32_t round_half_away(double v) {
  return static_cast<std::int32_t>(v >= 0.0 ? v + 0.5 : v - 0.5);
}

// One separable pass for any pixel type. `stride` is the distance between taps
// (bands for horizontal, row length for vertical); `step` moves to the next output.
template <typename Pixel, typename Weight, typename Store>
void horizontal_pass(const Pixel* in, int in_w, int rows, int bands, const Coefficients& c,
                     const std::vector<Weight>& k, Pixel* out, int out_w, Store store) {
  for (int y = 0; y < rows; ++y) {
    const Pixel* row = in + static_cast<std::size_t>(y) * in_w * bands;
    Pixel* dst = out + static_cast<std::size_t>(y) * out_w * bands;
    for (int xx = 0; xx < out_w; ++xx) {
      const Weight* kk = &k[static_cast<std::size_t>(xx) * c.ksize];
      const Pixel* src = row + static_cast<std::size_t>(c.first[xx]) * bands;
      for (int b = 0; b < bands; ++b) {
        auto acc = store.init();
        for (int x = 0; x < c.count[xx]; ++x) acc += src[x * bands + b] * kk[x];
        dst[xx * bands + b] = store(acc);
      }
    }
  }
}

template <typename Pixel, typename Weight, typename Store>
void vertical_pass(const Pixel* in, int width, int bands, const Coefficients& c, const std::vector<Weight>& k,
                   Pixel* out, int out_h, Store store) {
  const std::size_t row_len = static_cast<std::size_t>(width) * bands;
  for (int yy = 0; yy < out_h; ++yy) {
    const Weight* kk = &k[static_cast<std::size_t>(yy) * c.ksize];
    const Pixel* src = in + static_cast<std::size_t>(c.first[yy]) * row_len;
    Pixel* dst = out + static_cast<std::size_t>(yy) * row_len;
    for (std::size_t i = 0; i < row_len; ++i) {
      auto acc = store.init();
      for (int y = 0; y < c.count[yy]; ++y) acc += src[y * row_len + i] * kk[y];
      dst[i] = store(acc);
    }
  }
}

struct StoreU8 {
  std::int32_t init() const { return 1 << (kPrecisionBits - 1); }
  std::uint8_t operator()(std::int32_t acc) const { return clip8(acc); }
};
struct StoreI32 {
  double init() const { return 0.0; }
  std::int32_t operator()(double acc) const { return round_half_away(acc); }
};

// ImagingResampleInner: horizontal then vertical, each only when that size changes; the
// horizontal pass only produces the source rows the vertical pass reads.
template <typename Pixel, typename Weight, typename Store, typename MakeWeights>
std::vector<Pixel> resample(const Pixel* in, int in_w, int in_h, int bands, int out_w, int out_h,
                            MakeWeights make_weights, Store store) {
  const Coefficients horiz = precompute(in_w, out_w);
  Coefficients vert = precompute(in_h, out_h);
  const bool need_h = out_w != in_w, need_v = out_h != in_h;
  if (!need_h && !need_v) return std::vector<Pixel>(in, in + static_cast<std::size_t>(in_w) * in_h * bands);

  std::vector<Pixel> temp;
  const Pixel* src = in;
  int width = in_w;
  if (need_h) {
    const int first_row = vert.first[0];
    const int last_row = vert.first[out_h - 1] + vert.count[out_h - 1];
    for (int& f : vert.first) f -= first_row;
    const int rows = last_row - first_row;
    temp.resize(static_cast<std::size_t>(out_w) * rows * bands);
    horizontal_pass(in + static_cast<std::size_t>(first_row) * in_w * bands, in_w, rows, bands, horiz,
                    make_weights(horiz), temp.data(), out_w, store);
    if (!need_v) return temp;
    src = temp.data();
    width = out_w;
  }
  std::vector<Pixel> out(static_cast<std::size_t>(width) * out_h * bands);
  vertical_pass(src, width, bands, vert, make_weights(vert), out.data(), out_h, store);
  return out;
}

// Pillow's NEAREST affine scale: the source coordinate is accumulated, not recomputed.
std::vector<int> nearest_indices(int in_size, int out_size) {
  std::vector<int> idx(out_size);
  const double s = static_cast<double>(in_size) / out_size;
  double pos = s * 0.5;
  for (int i = 0; i < out_size; ++i) {
    idx[i] = std::min(static_cast<int>(pos), in_size - 1);
    pos += s;
  }
  return idx;
}

}  // namespace

std::vector<std::uint8_t> resample_bicubic_u8(const std::uint8_t* in, int in_w, int in_h, int bands, int out_w,
                                              int out_h) {
  return resample<std::uint8_t, std::int32_t>(in, in_w, in_h, bands, out_w, out_h, fixed_point, StoreU8{});
}

std::vector<std::int32_t> resample_bicubic_i32(const std::int32_t* in, int in_w, int in_h, int out_w, int out_h) {
  return resample<std::int32_t, double>(
      in, in_w, in_h, 1, out_w, out_h, [](const Coefficients& c) { return c.weights; }, StoreI32{});
}

std::vector<std::uint8_t> resample_nearest_u8(const std::uint8_t* in, int in_w, int in_h, int bands, int out_w,
                                              int out_h) {
  const std::vector<int> xs = nearest_indices(in_w, out_w), ys = nearest_indices(in_h, out_h);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(out_w) * out_h * bands);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int b = 0; b < bands; ++b)
        out[(static_cast<std::size_t>(y) * out_w + x) * bands + b] =
            in[(static_cast<std::size_t>(ys[y]) * in_w + xs[x]) * bands + b];
  return out;
}

}  // namespace clip::image
