// SIMD versions of the two BICUBIC passes for 8-bit images (AVX-512 or AVX2, chosen at
// run time). They compute the same exact integer sums as the portable loops in
// resample.cpp, so the output bytes are identical; they return false when the CPU (or
// the band count) is not supported and the portable code must run.
#pragma once

#include <cstddef>
#include <cstdint>

namespace clip::image {

// Per output index: taps start at first[i], count[i] of them, weights k[i * ksize + t]
// in 22-bit fixed point. ksize is a multiple of 4 and weights past count[i] are zero.
struct FixedPointTaps {
  const int* first;
  const int* count;
  int ksize;
  const std::uint32_t* k;
};

// For output pixel xx of each row: sum over the taps of in[(first + t) * bands + b] * k,
// from 1 << 21, then clip(sum >> 22, 0, 255). Only bands 3 and 4.
bool horizontal_u8_simd(const std::uint8_t* in, int in_w, int rows, int bands, const FixedPointTaps& taps,
                        std::uint8_t* out, int out_w);

// out row yy = clip of the weighted sum of rows first[yy] + t of `in`, each row_len bytes.
bool vertical_u8_simd(const std::uint8_t* in, std::size_t row_len, const FixedPointTaps& taps, std::uint8_t* out,
                      int out_h);

// Pillow's RGBa/La premultiplication (MULDIV255 of each colour by alpha) for 4-byte RGBA
// pixels; `n` pixels from in to out.
bool premultiply_rgba_simd(const std::uint8_t* in, std::uint8_t* out, std::size_t n);

}  // namespace clip::image
