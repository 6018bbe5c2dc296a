// NumPy .npy files (format 1.0/2.0, little-endian, C order): the interchange format of the
// CLI and of the test data.
#pragma once

#include <filesystem>
#include <ostream>

#include "clip/export.h"
#include "clip/tensor.h"

namespace clip {

// Reads uint8, int32, int64, float16, float32 or float64 arrays. Anything else (Fortran order, big-endian,
// other dtypes, a truncated file) is a clip::Error naming the file.
CLIP_API Tensor load_npy(const std::filesystem::path& path);

// The .npy bytes of `tensor` (format 1.0, data 64-byte aligned) to a stream.
CLIP_API void write_npy(std::ostream& out, const Tensor& tensor);
// Writes the tensor to a temporary file beside `path`, then renames it over `path`.
CLIP_API void save_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace clip
