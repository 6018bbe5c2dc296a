// Pillow 9.4's resampling (libImaging/Resample.c and the NEAREST affine scale),
// reproduced exactly: same coefficients, same fixed-point rounding, same pass order.
#pragma once

#include <cstdint>
#include <vector>

namespace clip::image {

// BICUBIC (a = -0.5), antialiased when downscaling, for 8-bit images with `bands`
// interleaved channels: horizontal pass first, rounded to uint8 between the passes. With
// `premultiplied_alpha` (LA, RGBA) the input is first premultiplied as Pillow's
// convert("La"/"RGBa") does; the result stays premultiplied.
std::vector<std::uint8_t> resample_bicubic_u8(const std::uint8_t* in, int in_w, int in_h, int bands,
                                              int out_w, int out_h, bool premultiplied_alpha = false);

// The same filter for mode I (int32): double weights, rounded half away from zero after
// each pass, no clipping.
std::vector<std::int32_t> resample_bicubic_i32(const std::int32_t* in, int in_w, int in_h, int out_w,
                                               int out_h);

// NEAREST as Pillow's ImagingScaleAffine does it (used for modes P and 1).
std::vector<std::uint8_t> resample_nearest_u8(const std::uint8_t* in, int in_w, int in_h, int bands,
                                              int out_w, int out_h);

}  // namespace clip::image
