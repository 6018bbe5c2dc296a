// Pillow 9.4's resampling (libImaging/Resample.c and the NEAREST affine scale),
// reproduced exactly: same coefficients, same fixed-point rounding, same pass order.
#pragma once

#include <cstdint>
#include <vector>

namespace clip::image {

// The part of the resized image that is wanted: columns [x, x + w), rows [y, y + h) of the
// out_w x out_h result. Every output pixel depends only on its own taps, so a window holds
// exactly the pixels the whole resize has there, and the work is bounded by the window and
// the source: preprocess resizes a 1 x 50000 image to 224 x 11,200,000 and keeps 224 x 224
// (8 GB when resized whole, issue #15).
struct Window {
  int x = 0, y = 0, w = 0, h = 0;
};

// Each function returns the window's pixels, row-major, window.w x window.h.

// Pillow's convolution filters: BICUBIC (a = -0.5, support 2) and BILINEAR (a triangle,
// support 1), both antialiased when downscaling (the support grows with the scale).
enum class Filter { Bicubic, Bilinear };

// For 8-bit images with `bands` interleaved channels: horizontal pass first, rounded to
// uint8 between the passes. With `premultiplied_alpha` (LA, RGBA) the input is first
// premultiplied as Pillow's convert("La"/"RGBa") does; the result stays premultiplied.
std::vector<std::uint8_t> resample_u8(const std::uint8_t* in, int in_w, int in_h, int bands, int out_w, int out_h,
                                      const Window& window, Filter filter, bool premultiplied_alpha = false);

// The same, from a source of which only the part `held` (inside the in_w x in_h image,
// held.w wide in memory) was decoded; `held` must contain source_window(...).
std::vector<std::uint8_t> resample_u8(const std::uint8_t* in, const Window& held, int in_w, int in_h, int bands,
                                      int out_w, int out_h, const Window& window, Filter filter,
                                      bool premultiplied_alpha = false);

// The source pixels a resize to out_w x out_h reads for `window`: what a decoder must
// produce when only that window is wanted (see Preprocess's JPEG path).
Window source_window(int in_w, int in_h, int out_w, int out_h, const Window& window, Filter filter);

// The same for mode I (int32): double weights, rounded half away from zero after each
// pass, no clipping.
std::vector<std::int32_t> resample_i32(const std::int32_t* in, int in_w, int in_h, int out_w, int out_h,
                                       const Window& window, Filter filter);

// And for mode F (float32): double sums, each pass's result rounded to float.
std::vector<float> resample_f32(const float* in, int in_w, int in_h, int out_w, int out_h, const Window& window,
                                Filter filter);

// NEAREST as Pillow's ImagingScaleAffine does it (used for modes P and 1).
std::vector<std::uint8_t> resample_nearest_u8(const std::uint8_t* in, int in_w, int in_h, int bands, int out_w,
                                              int out_h, const Window& window);

}  // namespace clip::image
