#include "core/half.h"

#include <cpuid.h>

#include <algorithm>
#include <cstring>

#include "core/intrinsics.h"
#include "core/threads.h"

namespace clip::core {
namespace {

float half_to_float_scalar(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000 | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    std::uint32_t m = mantissa;
    do {
      ++e;
      m <<= 1;
    } while (!(m & 0x400));
    bits = sign | ((112 - e) << 23) | ((m & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

__attribute__((target("avx,f16c"))) void half_to_float_f16c(const std::uint16_t* src, float* dst, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = half_to_float_scalar(src[i]);
}

std::uint16_t float_to_bfloat16_scalar(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40u);  // quiet NaN
  return static_cast<std::uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

__attribute__((target("avx512f"))) void float_to_bfloat16_avx512(const float* src, std::uint16_t* dst, std::int64_t n) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000),
                round = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i b = _mm512_loadu_si512(src + i);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), one);
    __m512i h = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(round, odd)), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, abs_mask), inf);
    h = _mm512_mask_or_epi32(h, nan, _mm512_srli_epi32(b, 16), quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(h));
  }
  for (; i < n; ++i) dst[i] = float_to_bfloat16_scalar(src[i]);
}

// F16C is a VEX extension: the CPU bit, and AVX enabled by the OS. (Clang's
// __builtin_cpu_supports does not know "f16c".)
bool has_f16c() {
  unsigned a, b, c, d;
  return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}

}  // namespace

float half_to_float(std::uint16_t h) { return half_to_float_scalar(h); }

void half_to_float(const std::uint16_t* src, float* dst, std::int64_t n) {
  static const bool f16c = has_f16c();
  constexpr std::int64_t kChunk = 1 << 16;
#pragma omp parallel for schedule(static) num_threads(loop_threads()) if (n > 4 * kChunk)
  for (std::int64_t begin = 0; begin < n; begin += kChunk) {
    const std::int64_t count = std::min(kChunk, n - begin);
    if (f16c)
      half_to_float_f16c(src + begin, dst + begin, count);
    else
      for (std::int64_t i = 0; i < count; ++i) dst[begin + i] = half_to_float_scalar(src[begin + i]);
  }
}

void float_to_bfloat16(const float* src, std::uint16_t* dst, std::int64_t n) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  constexpr std::int64_t kChunk = 1 << 13;
#pragma omp parallel for schedule(static) num_threads(loop_threads()) if (n > kChunk)
  for (std::int64_t begin = 0; begin < n; begin += kChunk) {
    const std::int64_t count = std::min(kChunk, n - begin);
    if (avx512)
      float_to_bfloat16_avx512(src + begin, dst + begin, count);
    else
      for (std::int64_t i = 0; i < count; ++i) dst[begin + i] = float_to_bfloat16_scalar(src[begin + i]);
  }
}

}  // namespace clip::core
