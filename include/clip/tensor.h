// clip::Tensor: a small dense, contiguous, row-major array. It is the currency of the
// public API (token rows, images, features), not a general tensor library. Like a torch
// tensor, copies share their storage (clone() makes an independent copy); storage may be
// a view into a memory-mapped checkpoint, kept alive as long as a tensor uses it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "clip/error.h"
#include "clip/export.h"

namespace clip {

// Float16, BFloat16 and Float64 are storage types (weights as a checkpoint holds them):
// read them through to(DType::Float32).
enum class DType { UInt8, Int32, Int64, Float32, Float16, BFloat16, Float64 };

CLIP_API std::size_t dtype_size(DType dtype);
CLIP_API const char* dtype_name(DType dtype);

template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, std::uint8_t>)
    return DType::UInt8;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return DType::Int32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::Int64;
  else {
    static_assert(std::is_same_v<T, float>, "clip::Tensor holds uint8, int32, int64 or float");
    return DType::Float32;
  }
}

class CLIP_API Tensor {
 public:
  using Shape = std::vector<std::int64_t>;

  Tensor() = default;  // empty: rank 1, zero elements, float32
  // Zero-filled tensor of the given shape. Negative dimensions are a clip::Error.
  Tensor(Shape shape, DType dtype);
  // A tensor over existing memory (e.g. a mapped file) that `owner` keeps alive.
  static Tensor view(Shape shape, DType dtype, std::shared_ptr<void> owner, std::byte* data);

  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t(std::move(shape), dtype_of<T>());
    if (static_cast<std::int64_t>(values.size()) != t.numel())
      throw Error("Tensor::from_vector: " + std::to_string(values.size()) + " values do not fill shape " +
                  t.shape_string());
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }

  const Shape& shape() const { return shape_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t d) const;  // negative d counts from the end
  std::int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  std::size_t nbytes() const { return nbytes_; }
  Tensor clone() const;  // an independent copy
  // A converted copy (any dtype to float32; float32 to float16/bfloat16, rounding to
  // nearest even; integer dtypes to each other). Same dtype: the tensor itself.
  Tensor to(DType dtype) const;
  // The same storage with another shape of the same number of elements.
  Tensor reshape(Shape shape) const;
  std::string shape_string() const;  // "[2, 77]"
  static std::string shape_string_of(const Shape& shape);

  // Typed access to the contiguous storage; T must match dtype().
  template <typename T>
  T* data() {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<const T*>(data_);
  }

  // The storage as bytes, whatever the dtype (for I/O).
  std::byte* raw_data() { return data_; }
  const std::byte* raw_data() const { return data_; }

  // Bounds-checked element access: t.at<int32_t>({row, col}).
  template <typename T>
  T& at(std::initializer_list<std::int64_t> index) {
    return data<T>()[offset(index)];
  }
  template <typename T>
  const T& at(std::initializer_list<std::int64_t> index) const {
    return data<T>()[offset(index)];
  }

  template <typename T>
  std::vector<T> to_vector() const {
    const T* p = data<T>();
    return std::vector<T>(p, p + numel_);
  }

 private:
  // Storage left uninitialised, for results that overwrite every byte (to, clone).
  struct Uninitialized {};
  Tensor(Shape shape, DType dtype, Uninitialized);
  void check_dtype(DType requested) const;
  static std::int64_t checked_numel(const Shape& shape);
  std::int64_t offset(std::initializer_list<std::int64_t> index) const;

  Shape shape_{0};
  DType dtype_ = DType::Float32;
  std::int64_t numel_ = 0;
  std::size_t nbytes_ = 0;
  std::shared_ptr<void> owner_;  // keeps data_ alive
  std::byte* data_ = nullptr;
};

// Prints like NumPy: [[0.9927937 0.00421068 0.00299572]] (up to 7 significant digits).
CLIP_API std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// Stacks tensors of one shape and dtype along a new first dimension: N x [3, 224, 224]
// images give [N, 3, 224, 224], as torch.stack does. An empty list is a clip::Error.
CLIP_API Tensor stack(const std::vector<Tensor>& tensors);

// Softmax of a float32 tensor along `dim` (negative counts from the end), as torch's.
CLIP_API Tensor softmax(const Tensor& x, int dim = -1);
// Each row (last dimension) divided by its L2 norm.
CLIP_API Tensor normalize(const Tensor& x);
// The cosine similarity of every row of `a` with every row of `b`: float32 [N, D] and
// [M, D] -> [N, M], accumulated in double.
CLIP_API Tensor cosine_similarity(const Tensor& a, const Tensor& b);
// The reference's CLIP.forward from features: (logits_per_image [N_img, N_txt],
// logits_per_text [N_txt, N_img]), logit_scale.exp() times the cosine similarities.
CLIP_API std::pair<Tensor, Tensor> logits(const Tensor& image_features, const Tensor& text_features, float logit_scale);

}  // namespace clip
