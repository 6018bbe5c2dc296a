#include "clip/tensor.h"

#include "core/checked.h"
#include "core/half.h"
#include "core/memory.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <ostream>

namespace clip {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return 1;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float16: return 2;
    case DType::BFloat16: return 2;
    case DType::Float64: return 8;
  }
  throw Error("unknown dtype");
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float64: return "float64";
  }
  return "unknown";
}

std::int64_t Tensor::checked_numel(const Shape& shape) { return core::checked_numel(shape, "Tensor"); }

Tensor::Tensor(Shape shape, DType dtype) : Tensor(std::move(shape), dtype, Uninitialized{}) {
  std::memset(data_, 0, (nbytes_ + 63) / 64 * 64 + 64);  // zero-filled, slack included
}

Tensor::Tensor(Shape shape, DType dtype, Uninitialized) : shape_(std::move(shape)), dtype_(dtype) {
  numel_ = checked_numel(shape_);
  nbytes_ = static_cast<std::size_t>(numel_) * dtype_size(dtype);
  // 64-byte aligned, with slack so that vector loads past the end stay inside.
  std::shared_ptr<std::byte> storage;
  try {
    storage = core::allocate((nbytes_ + 63) / 64 * 64 + 64);
  } catch (const std::bad_alloc&) {
    throw Error("Tensor: out of memory for shape " + shape_string());
  }
  data_ = storage.get();
  owner_ = std::move(storage);
}

Tensor Tensor::view(Shape shape, DType dtype, std::shared_ptr<void> owner, std::byte* data) {
  Tensor t;
  t.numel_ = checked_numel(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.nbytes_ = static_cast<std::size_t>(t.numel_) * dtype_size(dtype);
  t.owner_ = std::move(owner);
  t.data_ = data;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(shape_, dtype_, Uninitialized{});
  if (nbytes_) std::memcpy(t.data_, data_, nbytes_);
  return t;
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t rank = dim();
  const std::int64_t i = d < 0 ? d + rank : d;
  if (i < 0 || i >= rank)
    throw Error("Tensor::size: dimension " + std::to_string(d) + " out of range for shape " + shape_string());
  return shape_[static_cast<std::size_t>(i)];
}

std::string Tensor::shape_string() const { return shape_string_of(shape_); }

std::string Tensor::shape_string_of(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

void Tensor::check_dtype(DType requested) const {
  if (requested != dtype_)
    throw Error(std::string("Tensor: accessed as ") + dtype_name(requested) + " but holds " + dtype_name(dtype_));
}

std::int64_t Tensor::offset(std::initializer_list<std::int64_t> index) const {
  if (static_cast<std::int64_t>(index.size()) != dim())
    throw Error("Tensor::at: " + std::to_string(index.size()) + " indices for shape " + shape_string());
  std::int64_t off = 0;
  std::size_t d = 0;
  for (std::int64_t i : index) {
    if (i < 0 || i >= shape_[d])
      throw Error("Tensor::at: index " + std::to_string(i) + " out of range for dimension " + std::to_string(d) +
                  " of shape " + shape_string());
    off = off * shape_[d] + i;
    ++d;
  }
  return off;
}

namespace {

using core::half_to_float;

std::uint16_t float_to_half(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000;
  const std::uint32_t abs = x & 0x7FFFFFFF;
  if (abs >= 0x7F800000) return static_cast<std::uint16_t>(sign | 0x7C00 | (abs > 0x7F800000 ? 0x200 : 0));
  if (abs >= 0x477FF000) return static_cast<std::uint16_t>(sign | 0x7C00);  // rounds to inf
  if (abs < 0x38800000) {                                                   // subnormal or zero half
    const float scaled = std::fabs(f) * 16777216.0f;                        // 2^24: units of the smallest subnormal
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(std::nearbyint(scaled)));
  }
  const std::uint32_t rounded = abs + 0xFFF + ((abs >> 13) & 1);  // round to nearest even
  return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000) >> 13));
}

float bf16_to_float(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t float_to_bf16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return static_cast<std::uint16_t>((x >> 16) | 0x40);  // quiet nan
  return static_cast<std::uint16_t>((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

// Element i of `t` as a double (for any dtype).
double element(const Tensor& t, std::int64_t i) {
  const std::byte* p = t.raw_data() + i * static_cast<std::int64_t>(dtype_size(t.dtype()));
  switch (t.dtype()) {
    case DType::UInt8: return static_cast<double>(*reinterpret_cast<const std::uint8_t*>(p));
    case DType::Int32: {
      std::int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::Int64: {
      std::int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case DType::Float32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::Float16: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return half_to_float(v);
    }
    case DType::BFloat16: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return bf16_to_float(v);
    }
    case DType::Float64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
  return 0;
}

}  // namespace

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out(shape_, dtype, Uninitialized{});
  std::byte* dst = out.data_;
  if (dtype_ == DType::Float16 && dtype == DType::Float32) {  // the common case, kept tight
    core::half_to_float(reinterpret_cast<const std::uint16_t*>(data_), reinterpret_cast<float*>(dst), numel_);
    return out;
  }
  for (std::int64_t i = 0; i < numel_; ++i) {
    const double v = element(*this, i);
    std::byte* p = dst + i * static_cast<std::int64_t>(dtype_size(dtype));
    switch (dtype) {
      case DType::UInt8: *reinterpret_cast<std::uint8_t*>(p) = static_cast<std::uint8_t>(v); break;
      case DType::Int32: {
        const auto x = static_cast<std::int32_t>(v);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::Int64: {
        const auto x = static_cast<std::int64_t>(v);
        std::memcpy(p, &x, 8);
        break;
      }
      case DType::Float32: {
        const auto x = static_cast<float>(v);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::Float16: {
        const auto x = float_to_half(static_cast<float>(v));
        std::memcpy(p, &x, 2);
        break;
      }
      case DType::BFloat16: {
        const auto x = float_to_bf16(static_cast<float>(v));
        std::memcpy(p, &x, 2);
        break;
      }
      case DType::Float64: std::memcpy(p, &v, 8); break;
    }
  }
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  if (checked_numel(shape) != numel_)
    throw Error("Tensor::reshape: cannot view " + shape_string() + " as " + shape_string_of(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

namespace {
void print(std::ostream& out, const Tensor& t, std::size_t dim, std::int64_t& index) {
  if (dim == t.shape().size()) {
    const double v = element(t, index++);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", v);
    out << buf;
    return;
  }
  out << '[';
  for (std::int64_t i = 0; i < t.shape()[dim]; ++i) {
    if (i) out << (dim + 1 == t.shape().size() ? std::string(" ") : '\n' + std::string(dim + 1, ' '));
    print(out, t, dim + 1, index);
  }
  out << ']';
}
}  // namespace

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) {
  std::int64_t index = 0;
  print(out, tensor, 0, index);
  return out;
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
      throw Error("stack: tensor " + std::to_string(i) + " is " + dtype_name(t.dtype()) + " " + t.shape_string() +
                  ", tensor 0 is " + dtype_name(first.dtype()) + " " + first.shape_string());
    std::copy(t.raw_data(), t.raw_data() + t.nbytes(), dst + i * first.nbytes());
  }
  return out;
}

}  // namespace clip
