// NumPy .npy files (format 1.0/2.0, little-endian, C order): the interchange format of the
// CLI and of the test data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>

#include "clip/export.h"
#include "clip/tensor.h"

namespace clip {

// Reads uint8, int32, int64, float16, float32 or float64 arrays. Anything else (Fortran order, big-endian,
// other dtypes, a truncated file) is a clip::Error naming the file.
CLIP_API Tensor load_npy(const std::filesystem::path& path);

// An .npy file kept open to read rows of its array on demand: arrays too big to load whole
// (the parts of a collection, when a FAISS index re-ranks its candidates). The header is
// read and checked as load_npy does, once.
class CLIP_API NpyFile {
 public:
  explicit NpyFile(const std::filesystem::path& path);
  ~NpyFile();
  NpyFile(NpyFile&& other) noexcept;
  NpyFile(const NpyFile&) = delete;
  NpyFile& operator=(const NpyFile&) = delete;
  NpyFile& operator=(NpyFile&&) = delete;

  DType dtype() const { return dtype_; }
  const Tensor::Shape& shape() const { return shape_; }
  // Rows [begin, begin + count) of the first dimension (the whole array of a 0-d one).
  // A range outside the array, or a file cut short since it was opened, is a clip::Error.
  Tensor rows(std::int64_t begin, std::int64_t count) const;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  DType dtype_ = DType::Float32;
  Tensor::Shape shape_;
  std::uint64_t data_start_ = 0;
};

// The .npy bytes of `tensor` (format 1.0, data 64-byte aligned) to a stream.
CLIP_API void write_npy(std::ostream& out, const Tensor& tensor);
// Writes the tensor to a temporary file beside `path`, then renames it over `path`.
CLIP_API void save_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace clip
