#include "image/resample_simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "core/intrinsics.h"
#define CLIP_X86_SIMD 1
#endif

namespace clip::image {

#ifdef CLIP_X86_SIMD
namespace {

constexpr int kPrecisionBits = 22;

inline std::uint8_t clip8(std::int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

// One tap at a time, for the last taps of a pixel and near the end of the buffer.
template <int Bands>
__attribute__((target("avx2"))) inline __m128i single_taps(__m128i sum, const std::uint8_t* src,
                                                           const std::uint32_t* kk, int x, int n) {
  for (; x < n; ++x) {
    std::uint32_t p = 0;
    for (int b = 0; b < Bands; ++b) p |= static_cast<std::uint32_t>(src[x * Bands + b]) << (8 * b);
    const __m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(static_cast<int>(p)));
    sum = _mm_add_epi32(sum, _mm_mullo_epi32(px, _mm_set1_epi32(static_cast<int>(kk[x]))));
  }
  return sum;
}

template <int Bands>
__attribute__((target("avx2"))) inline void store_pixel(__m128i sum, std::uint8_t* dst) {
  alignas(16) std::int32_t lanes[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), sum);
  for (int b = 0; b < Bands; ++b) dst[b] = clip8(lanes[b]);
}

// Pixel bytes -> one 4-byte group per pixel (for 3 bands the 4th byte is zeroed).
template <int Bands>
__attribute__((target("avx2"))) inline __m128i spread_mask() {
  return Bands == 4 ? _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
                    : _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
}

// AVX2: two taps per step (8 lanes = 2 pixels x 4 bands).
template <int Bands>
__attribute__((target("avx2"))) void horizontal_avx2(const std::uint8_t* in, int in_w, int rows,
                                                     const FixedPointTaps& t, std::uint8_t* out, int out_w) {
  const std::uint8_t* end = in + static_cast<std::size_t>(in_w) * rows * Bands;
  const __m256i pairs = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  for (int y = 0; y < rows; ++y) {
    const std::uint8_t* row = in + static_cast<std::size_t>(y) * in_w * Bands;
    std::uint8_t* dst = out + static_cast<std::size_t>(y) * out_w * Bands;
    for (int xx = 0; xx < out_w; ++xx) {
      const std::uint32_t* kk = t.k + static_cast<std::size_t>(xx) * t.ksize;
      const std::uint8_t* src = row + static_cast<std::size_t>(t.first[xx]) * Bands;
      const int n = t.count[xx];
      __m256i acc = _mm256_setzero_si256();
      int x = 0;
      if (src + static_cast<std::size_t>(n) * Bands + 16 <= end) {  // 8-byte loads stay inside
        for (; x + 1 < n; x += 2) {
          const __m128i bytes = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + x * Bands)),
                                                 spread_mask<Bands>());
          const __m256i w = _mm256_permutevar8x32_epi32(
              _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(kk + x))), pairs);
          acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), w));
        }
      }
      __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
      sum = _mm_add_epi32(sum, _mm_set1_epi32(1 << (kPrecisionBits - 1)));
      store_pixel<Bands>(single_taps<Bands>(sum, src, kk, x, n), dst + xx * Bands);
    }
  }
}

// AVX-512: four taps per step (16 lanes = 4 source pixels x 4 bands), four output
// pixels at a time, each in its own accumulator; the taps run to the next multiple of 4
// (zero weights), which may read into the next row but never past the buffer.
template <int Bands>
__attribute__((target("avx512f,avx2"))) inline __m512i accumulate4(const std::uint8_t* src, const std::uint32_t* kk,
                                                                   int n4) {
  const __m512i quads = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512i acc = _mm512_setzero_si512();
  for (int x = 0; x < n4; x += 4) {
    const __m128i bytes =
        _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + x * Bands)), spread_mask<Bands>());
    const __m512i w = _mm512_permutexvar_epi32(
        quads, _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kk + x))));
    acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(bytes), w));
  }
  return acc;
}

template <int Bands>
__attribute__((target("avx512f,avx2"))) void horizontal_avx512(const std::uint8_t* in, int in_w, int rows,
                                                               const FixedPointTaps& t, std::uint8_t* out, int out_w) {
  const std::uint8_t* end = in + static_cast<std::size_t>(in_w) * rows * Bands;
  const __m512i init = _mm512_set1_epi32(1 << (kPrecisionBits - 1));
  // Drops the 4th byte of each pixel when there are 3 bands.
  const __m128i pack3 = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const auto safe = [&](const std::uint8_t* src, int n) {
    return src + static_cast<std::size_t>((n + 3) & ~3) * Bands + 4 <= end;
  };
  for (int y = 0; y < rows; ++y) {
    const std::uint8_t* row = in + static_cast<std::size_t>(y) * in_w * Bands;
    std::uint8_t* dst = out + static_cast<std::size_t>(y) * out_w * Bands;
    int xx = 0;
    for (; xx + 4 <= out_w; xx += 4) {
      const std::uint8_t* src[4];
      for (int j = 0; j < 4; ++j) src[j] = row + static_cast<std::size_t>(t.first[xx + j]) * Bands;
      bool all_safe = true;
      for (int j = 0; j < 4; ++j) all_safe = all_safe && safe(src[j], t.count[xx + j]);
      if (!all_safe) break;
      __m512i a[4];
      for (int j = 0; j < 4; ++j)
        a[j] = accumulate4<Bands>(src[j], t.k + static_cast<std::size_t>(xx + j) * t.ksize, (t.count[xx + j] + 3) & ~3);
      // Sum the four 128-bit quarters of each accumulator: result lane group j = pixel j.
      const __m512i ab =
          _mm512_add_epi32(_mm512_shuffle_i32x4(a[0], a[1], 0x44), _mm512_shuffle_i32x4(a[0], a[1], 0xEE));
      const __m512i cd =
          _mm512_add_epi32(_mm512_shuffle_i32x4(a[2], a[3], 0x44), _mm512_shuffle_i32x4(a[2], a[3], 0xEE));
      const __m512i sum = _mm512_add_epi32(_mm512_shuffle_i32x4(ab, cd, 0x88), _mm512_shuffle_i32x4(ab, cd, 0xDD));
      const __m512i v =
          _mm512_max_epi32(_mm512_srai_epi32(_mm512_add_epi32(sum, init), kPrecisionBits), _mm512_setzero_si512());
      const __m128i bytes = _mm512_cvtusepi32_epi8(v);
      if (Bands == 4) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + xx * 4), bytes);
      } else {
        alignas(16) std::uint8_t packed[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(packed), _mm_shuffle_epi8(bytes, pack3));
        __builtin_memcpy(dst + xx * 3, packed, 12);
      }
    }
    for (; xx < out_w; ++xx) {  // the right edge of the last row: one tap at a time
      const std::uint32_t* kk = t.k + static_cast<std::size_t>(xx) * t.ksize;
      const std::uint8_t* src = row + static_cast<std::size_t>(t.first[xx]) * Bands;
      const __m128i sum = single_taps<Bands>(_mm_set1_epi32(1 << (kPrecisionBits - 1)), src, kk, 0, t.count[xx]);
      store_pixel<Bands>(sum, dst + xx * Bands);
    }
  }
}

// AVX-512 vertical pass: 16 bytes of a row at a time, accumulated over the taps in a
// register, clipped and narrowed with saturation.
__attribute__((target("avx512f,avx2"))) void vertical_avx512(const std::uint8_t* in, std::size_t row_len,
                                                             const FixedPointTaps& t, std::uint8_t* out, int out_h) {
  const __m512i init = _mm512_set1_epi32(1 << (kPrecisionBits - 1));
  for (int yy = 0; yy < out_h; ++yy) {
    const std::uint32_t* kk = t.k + static_cast<std::size_t>(yy) * t.ksize;
    const std::uint8_t* src = in + static_cast<std::size_t>(t.first[yy]) * row_len;
    std::uint8_t* dst = out + static_cast<std::size_t>(yy) * row_len;
    const int n = t.count[yy];
    std::size_t i = 0;
    for (; i + 16 <= row_len; i += 16) {
      __m512i acc = init;
      for (int y = 0; y < n; ++y) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + y * row_len + i));
        acc = _mm512_add_epi32(
            acc, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(bytes), _mm512_set1_epi32(static_cast<int>(kk[y]))));
      }
      const __m512i v = _mm512_max_epi32(_mm512_srai_epi32(acc, kPrecisionBits), _mm512_setzero_si512());
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm512_cvtusepi32_epi8(v));
    }
    for (; i < row_len; ++i) {
      std::uint32_t acc = 1u << (kPrecisionBits - 1);
      for (int y = 0; y < n; ++y) acc += src[y * row_len + i] * kk[y];
      dst[i] = clip8(static_cast<std::int32_t>(acc));
    }
  }
}

// 16 RGBA pixels per step, in 16-bit lanes: t = c * a + 128; ((t >> 8) + t) >> 8.
__attribute__((target("avx512f,avx512bw,avx2"))) void premultiply_avx512(const std::uint8_t* in, std::uint8_t* out,
                                                                         std::size_t n) {
  const __m512i alpha_index =
      _mm512_set_epi8(63, 63, 63, 63, 59, 59, 59, 59, 55, 55, 55, 55, 51, 51, 51, 51, 47, 47, 47, 47, 43, 43, 43, 43,
                      39, 39, 39, 39, 35, 35, 35, 35, 31, 31, 31, 31, 27, 27, 27, 27, 23, 23, 23, 23, 19, 19, 19, 19,
                      15, 15, 15, 15, 11, 11, 11, 11, 7, 7, 7, 7, 3, 3, 3, 3);
  const __mmask64 alpha_lanes = 0x8888888888888888ull;
  const __m512i round = _mm512_set1_epi16(128);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i px = _mm512_loadu_si512(in + i * 4);
    const __m512i a = _mm512_shuffle_epi8(px, alpha_index);  // alpha in every byte of its pixel
    const __m512i zero = _mm512_setzero_si512();
    __m512i lo =
        _mm512_add_epi16(_mm512_mullo_epi16(_mm512_unpacklo_epi8(px, zero), _mm512_unpacklo_epi8(a, zero)), round);
    __m512i hi =
        _mm512_add_epi16(_mm512_mullo_epi16(_mm512_unpackhi_epi8(px, zero), _mm512_unpackhi_epi8(a, zero)), round);
    lo = _mm512_srli_epi16(_mm512_add_epi16(_mm512_srli_epi16(lo, 8), lo), 8);
    hi = _mm512_srli_epi16(_mm512_add_epi16(_mm512_srli_epi16(hi, 8), hi), 8);
    const __m512i product = _mm512_packus_epi16(lo, hi);  // same lane order as the unpacks
    _mm512_storeu_si512(out + i * 4, _mm512_mask_blend_epi8(alpha_lanes, product, px));
  }
  for (; i < n; ++i) {
    const std::uint32_t a = in[i * 4 + 3];
    for (int c = 0; c < 3; ++c) {
      const std::uint32_t t = in[i * 4 + c] * a + 128;
      out[i * 4 + c] = static_cast<std::uint8_t>(((t >> 8) + t) >> 8);
    }
    out[i * 4 + 3] = static_cast<std::uint8_t>(a);
  }
}

bool has_avx512bw() {
  static const bool has = __builtin_cpu_supports("avx512bw");
  return has;
}

bool has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}
bool has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

}  // namespace

bool horizontal_u8_simd(const std::uint8_t* in, int in_w, int rows, int bands, const FixedPointTaps& taps,
                        std::uint8_t* out, int out_w) {
  if (bands != 3 && bands != 4) return false;
  if (has_avx512()) {
    if (bands == 3)
      horizontal_avx512<3>(in, in_w, rows, taps, out, out_w);
    else
      horizontal_avx512<4>(in, in_w, rows, taps, out, out_w);
    return true;
  }
  if (has_avx2()) {
    if (bands == 3)
      horizontal_avx2<3>(in, in_w, rows, taps, out, out_w);
    else
      horizontal_avx2<4>(in, in_w, rows, taps, out, out_w);
    return true;
  }
  return false;
}

bool vertical_u8_simd(const std::uint8_t* in, std::size_t row_len, const FixedPointTaps& taps, std::uint8_t* out,
                      int out_h) {
  if (!has_avx512()) return false;
  vertical_avx512(in, row_len, taps, out, out_h);
  return true;
}

bool premultiply_rgba_simd(const std::uint8_t* in, std::uint8_t* out, std::size_t n) {
  if (!has_avx512bw()) return false;
  premultiply_avx512(in, out, n);
  return true;
}

#else

bool premultiply_rgba_simd(const std::uint8_t*, std::uint8_t*, std::size_t) { return false; }
bool horizontal_u8_simd(const std::uint8_t*, int, int, int, const FixedPointTaps&, std::uint8_t*, int) { return false; }
bool vertical_u8_simd(const std::uint8_t*, std::size_t, const FixedPointTaps&, std::uint8_t*, int) { return false; }

#endif

}  // namespace clip::image
