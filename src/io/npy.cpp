#include "clip/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <utility>

#include "clip/atomic_file.h"
#include "clip/error.h"
#include "core/checked.h"
#include "core/file.h"

namespace clip {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMaxHeader = 1 << 16;

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return "|u1";
    case DType::Int32: return "<i4";
    case DType::Int64: return "<i8";
    case DType::Float32: return "<f4";
    case DType::Float16: return "<f2";
    case DType::Float64: return "<f8";
    case DType::BFloat16: break;
  }
  throw Error(std::string("npy: NumPy has no ") + dtype_name(dtype) + " arrays; convert the tensor first");
}

DType dtype_of_descr(const std::string& descr, const std::string& where) {
  if (descr == "|u1" || descr == "<u1" || descr == "u1") return DType::UInt8;
  if (descr == "<i4") return DType::Int32;
  if (descr == "<i8") return DType::Int64;
  if (descr == "<f4") return DType::Float32;
  if (descr == "<f2") return DType::Float16;
  if (descr == "<f8") return DType::Float64;
  throw Error(where + ": unsupported dtype '" + descr + "' (expected uint8, <i4, <i8, <f2, <f4 or <f8)");
}

}  // namespace

NpyFile::NpyFile(const std::filesystem::path& path) : path_(path) {
  const std::string where = path.string();
  // Regular files only (a FIFO would block, a directory is no array).
  std::uint64_t file_size = 0;
  core::FileHandle fd = core::open_regular_file(path, "", file_size);
  std::uint64_t pos = 0;
  const auto read = [&](void* out, std::size_t n) {
    const bool whole = core::read_at(fd.get(), out, n, pos);
    pos += n;
    return whole;
  };
  char magic[8];
  if (!read(magic, 8) || std::memcmp(magic, kMagic, 6) != 0) throw Error(where + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  std::size_t header_len;
  if (major == 1) {
    unsigned char b[2];
    if (!read(b, 2)) throw Error(where + ": truncated .npy header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!read(b, 4)) throw Error(where + ": truncated .npy header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::size_t>(b[3]) << 24);
  } else {
    throw Error(where + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > kMaxHeader) throw Error(where + ": .npy header is too large");
  std::string header(header_len, '\0');
  if (!read(header.data(), header_len)) throw Error(where + ": truncated .npy header");

  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']+)')")))
    throw Error(where + ": .npy header has no descr");
  dtype_ = dtype_of_descr(m[1], where);
  if (!std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*(True|False))")) || m[1] == "True")
    throw Error(where + ": only C-order .npy arrays are supported");
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))")))
    throw Error(where + ": .npy header has no shape");
  const std::string dims = m[1];
  const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    if (it->str().size() > 12) throw Error(where + ": .npy dimension too large");
    shape_.push_back(std::stoll(it->str()));
  }

  // Check the payload size against the file before anything is allocated for it.
  data_start_ = pos;
  const std::uint64_t expected =
      core::checked_mul(static_cast<std::uint64_t>(core::checked_numel(shape_, where)), dtype_size(dtype_), where);
  if (expected > file_size - data_start_)
    throw Error(where + ": truncated .npy data (shape needs " + std::to_string(expected) + " bytes, file has " +
                std::to_string(file_size - data_start_) + ")");
  fd_ = fd.release();
}

NpyFile::~NpyFile() { const core::FileHandle close_it(fd_); }

NpyFile::NpyFile(NpyFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      dtype_(other.dtype_),
      shape_(std::move(other.shape_)),
      data_start_(other.data_start_) {}

Tensor NpyFile::rows(std::int64_t begin, std::int64_t count) const {
  const std::string where = path_.string();
  if (shape_.empty()) {
    if (begin != 0 || count != 1) throw Error(where + ": a 0-d array has one value");
    Tensor t(Tensor::Shape{}, dtype_);  // not a copy of shape_: g++ 14 warned (-Warray-bounds)
    if (!core::read_at(fd_, t.raw_data(), t.nbytes(), data_start_)) throw Error(where + ": truncated .npy data");
    return t;
  }
  if (begin < 0 || count < 0 || begin > shape_[0] || count > shape_[0] - begin)
    throw Error(where + ": rows " + std::to_string(begin) + " to " + std::to_string(begin + count) +
                " are outside its " + std::to_string(shape_[0]) + " rows");
  Tensor::Shape shape{count};
  for (std::size_t i = 1; i < shape_.size(); ++i) shape.push_back(shape_[i]);
  Tensor t(shape, dtype_);
  const std::uint64_t row_bytes = count ? t.nbytes() / static_cast<std::uint64_t>(count) : 0;
  if (!core::read_at(fd_, t.raw_data(), t.nbytes(), data_start_ + static_cast<std::uint64_t>(begin) * row_bytes))
    throw Error(where + ": truncated .npy data");
  return t;
}

Tensor load_npy(const std::filesystem::path& path) {
  const NpyFile file(path);
  return file.rows(0, file.shape().empty() ? 1 : file.shape()[0]);
}

void write_npy(std::ostream& out, const Tensor& tensor) {
  // The shape as Python writes a tuple: (), (3,), (3, 224, 224).
  std::string dims;
  for (std::size_t i = 0; i < tensor.shape().size(); ++i) dims += (i ? ", " : "") + std::to_string(tensor.shape()[i]);
  if (tensor.shape().size() == 1) dims += ",";
  std::string header =
      std::string("{'descr': '") + descr_of(tensor.dtype()) + "', 'fortran_order': False, 'shape': (" + dims + ")";
  header += ", }";
  // Pad with spaces so that the data starts on a 64-byte boundary; end with '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  out.write(kMagic, 6);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const auto len = static_cast<std::uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(tensor.raw_data()), static_cast<std::streamsize>(tensor.nbytes()));
}

void save_npy(const std::filesystem::path& path, const Tensor& tensor) {
  write_atomically(path, [&](std::ostream& out) { write_npy(out, tensor); });
}

}  // namespace clip
