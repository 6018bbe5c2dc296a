// Arithmetic on numbers read from files: sums and products that cannot wrap around. A
// storage of 2^62 + n elements times 4 bytes wraps to 4n in 64 bits and would pass a size
// check (security issue #15), so every size computed from file-supplied numbers goes
// through these, shapes (Tensor's own included) through checked_numel.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "clip/error.h"
#include "clip/tensor.h"

namespace clip::core {

// a * b; throws clip::Error("<what>: size overflows") when it does not fit in 64 bits.
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const std::string& what) {
  std::uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw Error(what + ": size overflows (corrupt or hostile file)");
  return r;
}

// a + b, checked the same way.
inline std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, const std::string& what) {
  std::uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw Error(what + ": size overflows (corrupt or hostile file)");
  return r;
}

// The element count of `shape`, bounded so that numel * 8 (any element size) and every
// partial product fit in int64; throws "<what>: ..." for a negative or too large shape.
inline std::int64_t checked_numel(const std::vector<std::int64_t>& shape, const std::string& what) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw Error(what + ": negative dimension in shape " + Tensor::shape_string_of(shape));
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / 8 / d)
      throw Error(what + ": shape " + Tensor::shape_string_of(shape) + " is too large");
    n *= d;
  }
  return n;
}

}  // namespace clip::core
