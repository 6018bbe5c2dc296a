// Arithmetic on numbers read from files: sums and products that cannot wrap around. A
// storage of 2^62 + n elements times 4 bytes wraps to 4n in 64 bits and would pass a size
// check (security issue #15), so every size computed from file-supplied numbers goes
// through these (shapes go through Tensor::checked_numel, which bounds numel * 8).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "clip/error.h"

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
std::int64_t checked_numel(const std::vector<std::int64_t>& shape, const std::string& what);

}  // namespace clip::core
