// A restricted unpickler for the pickles inside PyTorch checkpoints. It understands the
// opcodes and the few globals needed to rebuild tensors, dicts, lists and module objects;
// anything else is a clip::Error. Nothing from the file is ever executed.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "clip/tensor.h"

namespace clip::io {

struct PickleValue;
// Values point at each other (the memo shares them, and a hostile pickle can make cycles),
// so they are owned by one arena, not by each other.
using PickleRef = PickleValue*;

// A tensor as _rebuild_tensor_v2 describes it: a slice of a storage ("data/<key>").
struct TensorRecord {
  std::string storage_key;
  DType dtype = DType::Float32;
  std::int64_t storage_numel = 0;
  std::int64_t offset = 0;  // in elements
  Tensor::Shape shape, stride;
};

struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Object, Storage, Tensor };
  Kind kind = Kind::None;
  std::int64_t integer = 0;  // Int, Bool
  double real = 0;
  std::string text;              // String, Bytes, Global ("module name"), Object (class name)
  std::vector<PickleRef> items;  // Tuple, List; Object: its state dict (shared, not copied), if built
  std::vector<std::pair<PickleRef, PickleRef>> entries;  // Dict (in insertion order)
  std::unique_ptr<TensorRecord> tensor;                  // Storage (key, dtype, numel), Tensor
};

// What a pickle of `bytes` bytes may build. Real data.pkl files take 5.8 to 8.3 bytes per
// object and never hold more than a few MARKs open at once (the fixture models, measured
// with pickletools); the limits are generous to those and bound a hostile pickle's memory
// to a small multiple of its size (issue #15: 16.7 M `None`s cost 3.85 GB before).
struct PickleLimits {
  static constexpr std::size_t kBytesPerObject = 4;  // at most bytes / 4 + kBaseObjects objects
  static constexpr std::size_t kBaseObjects = 4096;
  static constexpr std::size_t kMaxOpenMarks = 4096;  // MARKs not yet closed
  static constexpr std::size_t kMaxStack = 1 << 20;   // values on the stack
};

struct Unpickled {
  std::deque<PickleValue> arena;  // owns every value; a deque never moves them
  PickleRef root = nullptr;
};

// Unpickles `data`; `what` names the file in error messages.
Unpickled unpickle(std::span<const std::uint8_t> data, const std::string& what);

}  // namespace clip::io
