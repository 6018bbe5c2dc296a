// Bytes as lowercase hexadecimal: how SHA-256 digests are written (download markers, run
// folders' manifests).
#pragma once

#include <cstddef>
#include <string>

namespace clip::core {

inline std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

}  // namespace clip::core
