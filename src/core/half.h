// float16 -> float32 for whole arrays (checkpoint weights).
#pragma once

#include <cstdint>

namespace clip::core {

float half_to_float(std::uint16_t h);

// Exact conversion, 8 values at a time where the CPU has F16C, on OpenMP threads for
// large arrays.
void half_to_float(const std::uint16_t* src, float* dst, std::int64_t count);

}  // namespace clip::core
