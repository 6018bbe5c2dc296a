// float16 -> float32 for whole arrays (checkpoint weights), float32 -> bfloat16 (activations
// of bf16 matmuls).
#pragma once

#include <cstdint>

namespace clip::core {

float half_to_float(std::uint16_t h);

// Exact conversion, 8 values at a time where the CPU has F16C, on OpenMP threads for
// large arrays.
void half_to_float(const std::uint16_t* src, float* dst, std::int64_t count);

// Rounds to nearest even as PyTorch and oneDNN do (NaN stays NaN), 16 values at a time
// where the CPU has AVX-512, on OpenMP threads for large arrays.
void float_to_bfloat16(const float* src, std::uint16_t* dst, std::int64_t count);

}  // namespace clip::core
