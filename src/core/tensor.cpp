#include "clip/tensor.h"

#include <limits>

namespace clip {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return 1;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
  }
  throw Error("unknown dtype");
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
  }
  return "unknown";
}

Tensor::Tensor(Shape shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
  std::int64_t n = 1;
  for (std::int64_t d : shape_) {
    if (d < 0) throw Error("Tensor: negative dimension in shape " + shape_string());
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / 8 / d)
      throw Error("Tensor: shape " + shape_string() + " is too large");
    n *= d;
  }
  numel_ = n;
  storage_.assign(static_cast<std::size_t>(n) * dtype_size(dtype), std::byte{0});
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t rank = dim();
  const std::int64_t i = d < 0 ? d + rank : d;
  if (i < 0 || i >= rank)
    throw Error("Tensor::size: dimension " + std::to_string(d) + " out of range for shape " +
                shape_string());
  return shape_[static_cast<std::size_t>(i)];
}

std::string Tensor::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape_[i]);
  }
  return s + "]";
}

void Tensor::check_dtype(DType requested) const {
  if (requested != dtype_)
    throw Error(std::string("Tensor: accessed as ") + dtype_name(requested) + " but holds " +
                dtype_name(dtype_));
}

std::int64_t Tensor::offset(std::initializer_list<std::int64_t> index) const {
  if (static_cast<std::int64_t>(index.size()) != dim())
    throw Error("Tensor::at: " + std::to_string(index.size()) + " indices for shape " +
                shape_string());
  std::int64_t off = 0;
  std::size_t d = 0;
  for (std::int64_t i : index) {
    if (i < 0 || i >= shape_[d])
      throw Error("Tensor::at: index " + std::to_string(i) + " out of range for dimension " +
                  std::to_string(d) + " of shape " + shape_string());
    off = off * shape_[d] + i;
    ++d;
  }
  return off;
}

Tensor stack(const std::vector<Tensor>& tensors) {
  if (tensors.empty()) throw Error("stack: no tensors to stack");
  const Tensor& first = tensors.front();
  Tensor::Shape shape{static_cast<std::int64_t>(tensors.size())};
  shape.insert(shape.end(), first.shape().begin(), first.shape().end());
  Tensor out(shape, first.dtype());
  std::byte* dst = out.raw_data();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.shape() != first.shape() || t.dtype() != first.dtype())
      throw Error("stack: tensor " + std::to_string(i) + " is " + dtype_name(t.dtype()) + " " +
                  t.shape_string() + ", tensor 0 is " + dtype_name(first.dtype()) + " " + first.shape_string());
    std::copy(t.raw_data(), t.raw_data() + t.nbytes(), dst + i * first.nbytes());
  }
  return out;
}

}  // namespace clip
