#include "io/pickle.h"

#include <cstring>
#include <unordered_map>

#include "clip/error.h"

namespace clip::io {
namespace {

constexpr std::size_t kMaxMemo = 1 << 22;
// Strings that are copied each time a value is built from them (global names, storage
// keys) and tensor ranks are short in any checkpoint; longer ones are refused, so that a
// value referenced from the memo cannot be copied megabytes at a time.
constexpr std::size_t kMaxName = 1000;
constexpr std::size_t kMaxRank = 32;
constexpr std::size_t kMaxContainer = 1 << 24;

using Kind = PickleValue::Kind;

DType storage_dtype(const std::string& name) {
  static const std::unordered_map<std::string, DType> types = {
      {"torch FloatStorage", DType::Float32},     {"torch HalfStorage", DType::Float16},
      {"torch BFloat16Storage", DType::BFloat16}, {"torch DoubleStorage", DType::Float64},
      {"torch LongStorage", DType::Int64},        {"torch IntStorage", DType::Int32},
      {"torch ByteStorage", DType::UInt8},        {"torch BoolStorage", DType::UInt8}};
  const auto it = types.find(name);
  if (it == types.end()) throw Error("unsupported tensor storage type '" + name + "'");
  return it->second;
}

class Machine {
 public:
  Machine(std::span<const std::uint8_t> data, const std::string& what, Unpickled& out)
      : d_(data),
        what_(what),
        out_(out),
        max_objects_(data.size() / PickleLimits::kBytesPerObject + PickleLimits::kBaseObjects) {}

  PickleRef run() {
    while (true) {
      const std::size_t at = pos_;
      const std::uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;      // PROTO
        case 0x95: take(8); break;     // FRAME (length only)
        case '.': return pop_final();  // STOP
        case '(': mark(); break;       // MARK
        case '0': pop(); break;        // POP
        case 'N': push(make(Kind::None)); break;
        case 0x88: push(boolean(true)); break;                             // NEWTRUE
        case 0x89: push(boolean(false)); break;                            // NEWFALSE
        case 'J': push(integer(static_cast<std::int32_t>(u32()))); break;  // BININT
        case 'K': push(integer(byte())); break;                            // BININT1
        case 'M': push(integer(u16())); break;                             // BININT2
        case 0x8a: push(long1()); break;                                   // LONG1
        case 'G': push(binfloat()); break;                                 // BINFLOAT
        case 'X': push(text(Kind::String, u32())); break;                  // BINUNICODE
        case 0x8c: push(text(Kind::String, byte())); break;                // SHORT_BINUNICODE
        case 0x8d: push(text(Kind::String, u64())); break;                 // BINUNICODE8
        case 'B': push(text(Kind::Bytes, u32())); break;                   // BINBYTES
        case 'C': push(text(Kind::Bytes, byte())); break;                  // SHORT_BINBYTES
        case ')': push(make(Kind::Tuple)); break;                          // EMPTY_TUPLE
        case 't': push(sequence(Kind::Tuple, pop_mark())); break;          // TUPLE
        case 0x85:
        case 0x86:
        case 0x87: push(small_tuple(op - 0x84)); break;           // TUPLE1..3
        case ']': push(make(Kind::List)); break;                  // EMPTY_LIST
        case 'l': push(sequence(Kind::List, pop_mark())); break;  // LIST
        case 'a': append({pop()}); break;                         // APPEND
        case 'e': append(pop_mark()); break;                      // APPENDS
        case '}': push(make(Kind::Dict)); break;                  // EMPTY_DICT
        case 'd': {
          auto dict = make(Kind::Dict);
          set_items(dict, pop_mark());
          push(dict);
          break;
        }  // DICT
        case 's': {
          auto v = pop();
          auto k = pop();
          set_items(top(), {k, v});
          break;
        }  // SETITEM
        case 'u': {
          auto items = pop_mark();
          set_items(top(), items);
          break;
        }                                          // SETITEMS
        case 'q': memo_put(byte()); break;         // BINPUT
        case 'r': memo_put(u32()); break;          // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
        case 'h': push(memo_get(byte())); break;   // BINGET
        case 'j': push(memo_get(u32())); break;    // LONG_BINGET
        case 'c': {                                // GLOBAL
          const std::string module = line();
          push(global(module + " " + line()));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const auto name = pop(), module = pop();
          if (name->kind != Kind::String || module->kind != Kind::String) fail(at, "bad STACK_GLOBAL");
          // Names are checked before they are joined: a few bytes of memo references must
          // not copy megabytes.
          if (name->text.size() + module->text.size() > kMaxName) fail(at, "GLOBAL name too long");
          push(global(module->text + " " + name->text));
          break;
        }
        case 'Q': push(persistent_load(pop(), at)); break;  // BINPERSID
        case 'R': {
          auto args = pop();
          auto fn = pop();
          push(reduce(fn, args, at));
          break;
        }  // REDUCE
        case 0x81: {
          pop();
          auto cls = pop();
          push(new_object(cls, at));
          break;
        }  // NEWOBJ (arguments unused)
        case 'b': {
          auto state = pop();
          build(top(), state);
          break;
        }  // BUILD
        default: fail(at, "unsupported pickle opcode 0x" + hex(op));
      }
    }
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw Error(what_ + ": " + what + " (at byte " + std::to_string(at) + " of the pickle)");
  }
  static std::string hex(unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02x", v);
    return buf;
  }

  std::uint8_t byte() {
    if (pos_ >= d_.size()) fail(pos_, "truncated pickle");
    return d_[pos_++];
  }
  const std::uint8_t* take(std::uint64_t n) {
    if (n > d_.size() - pos_) fail(pos_, "truncated pickle");
    const std::uint8_t* p = d_.data() + pos_;
    pos_ += static_cast<std::size_t>(n);
    return p;
  }
  std::uint16_t u16() {
    const auto* p = take(2);
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
  }
  std::uint32_t u32() {
    const auto* p = take(4);
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  std::uint64_t u64() {
    const auto* p = take(8);
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  std::string line() {
    std::string s;
    while (true) {
      const char c = static_cast<char>(byte());
      if (c == '\n') return s;
      if (s.size() > kMaxName) fail(pos_, "GLOBAL name too long");
      s.push_back(c);
    }
  }

  void mark() {
    if (marks_.size() >= PickleLimits::kMaxOpenMarks) fail(pos_, "too many nested pickle MARKs");
    marks_.push_back(stack_.size());
  }
  void push(PickleRef v) {
    if (stack_.size() >= PickleLimits::kMaxStack) fail(pos_, "pickle stack too deep");
    stack_.push_back(std::move(v));
  }
  PickleRef pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail(pos_, "pickle stack underflow");
    PickleRef v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleRef& top() {
    if (stack_.empty()) fail(pos_, "pickle stack underflow");
    return stack_.back();
  }
  std::vector<PickleRef> pop_mark() {
    if (marks_.empty()) fail(pos_, "pickle MARK missing");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  PickleRef pop_final() {
    if (stack_.size() != 1 || !marks_.empty()) fail(pos_, "pickle ends with an unbalanced stack");
    return stack_.back();
  }

  PickleRef make(Kind kind) {
    if (out_.arena.size() >= max_objects_)
      fail(pos_, "too many pickle objects for its size (more than " + std::to_string(max_objects_) + ")");
    out_.arena.emplace_back().kind = kind;
    return &out_.arena.back();
  }
  PickleRef boolean(bool b) {
    auto v = make(Kind::Bool);
    v->integer = b;
    return v;
  }
  PickleRef integer(std::int64_t i) {
    auto v = make(Kind::Int);
    v->integer = i;
    return v;
  }
  PickleRef long1() {
    const std::uint8_t n = byte();
    if (n > 8) fail(pos_, "integer too large");
    const std::uint8_t* p = take(n);
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
    return integer(static_cast<std::int64_t>(v));
  }
  PickleRef binfloat() {
    const std::uint8_t* p = take(8);
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
    auto v = make(Kind::Float);
    std::memcpy(&v->real, &bits, 8);
    return v;
  }
  PickleRef text(Kind kind, std::uint64_t n) {
    const std::uint8_t* p = take(n);
    auto v = make(kind);
    v->text.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    return v;
  }
  PickleRef sequence(Kind kind, std::vector<PickleRef> items) {
    auto v = make(kind);
    v->items = std::move(items);
    return v;
  }
  PickleRef small_tuple(int n) {
    std::vector<PickleRef> items(static_cast<std::size_t>(n));
    for (int i = n - 1; i >= 0; --i) items[static_cast<std::size_t>(i)] = pop();
    return sequence(Kind::Tuple, std::move(items));
  }
  void append(std::vector<PickleRef> items) {
    PickleRef& list = top();
    if (list->kind != Kind::List) fail(pos_, "APPEND to something that is not a list");
    if (list->items.size() + items.size() > kMaxContainer) fail(pos_, "list too large");
    for (auto& item : items) list->items.push_back(std::move(item));
  }
  void set_items(const PickleRef& dict, const std::vector<PickleRef>& kv) {
    if (dict->kind != Kind::Dict) fail(pos_, "SETITEM on something that is not a dict");
    if (kv.size() % 2) fail(pos_, "odd number of dict items");
    if (dict->entries.size() + kv.size() / 2 > kMaxContainer) fail(pos_, "dict too large");
    for (std::size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }
  void memo_put(std::size_t index) {
    // Picklers number memo entries in order; a far-away index would only allocate memory.
    if (index >= kMaxMemo || index > memo_.size()) fail(pos_, "pickle memo index out of sequence");
    if (memo_.size() <= index) memo_.resize(index + 1);
    memo_[index] = top();
  }
  PickleRef memo_get(std::size_t index) {
    if (index >= memo_.size() || !memo_[index]) fail(pos_, "pickle refers to an unknown memo entry");
    return memo_[index];
  }

  // Only what a CLIP checkpoint needs; refusing everything else is the point.
  PickleRef global(const std::string& name) {
    const bool allowed = name == "collections OrderedDict" || name == "torch._utils _rebuild_tensor_v2" ||
                         name == "torch._utils _rebuild_parameter" || name.rfind("__torch__.", 0) == 0 ||
                         (name.rfind("torch ", 0) == 0 && name.size() > 13 && name.ends_with("Storage"));
    if (!allowed) fail(pos_, "refusing pickle global '" + name + "', which a CLIP checkpoint does not use");
    auto v = make(Kind::Global);
    v->text = name;
    return v;
  }

  // ('storage', <storage type>, key, location, numel)
  PickleRef persistent_load(const PickleRef& pid, std::size_t at) {
    const auto& t = pid->items;
    if (pid->kind != Kind::Tuple || t.size() != 5 || t[0]->kind != Kind::String || t[0]->text != "storage" ||
        t[1]->kind != Kind::Global || t[2]->kind != Kind::String || t[2]->text.size() > kMaxName ||
        t[4]->kind != Kind::Int || t[4]->integer < 0)
      fail(at, "unexpected persistent id (not a tensor storage)");
    auto v = make(Kind::Storage);
    v->tensor = std::make_unique<TensorRecord>();
    try {
      v->tensor->dtype = storage_dtype(t[1]->text);
    } catch (const Error& e) {
      fail(at, e.what());
    }
    v->tensor->storage_key = t[2]->text;
    v->tensor->storage_numel = t[4]->integer;
    return v;
  }

  Tensor::Shape int_tuple(const PickleRef& v, std::size_t at) {
    if (v->kind != Kind::Tuple) fail(at, "tensor size/stride is not a tuple");
    if (v->items.size() > kMaxRank) fail(at, "tensor has more than " + std::to_string(kMaxRank) + " dimensions");
    Tensor::Shape out;
    for (const auto& item : v->items) {
      if (item->kind != Kind::Int || item->integer < 0) fail(at, "bad tensor size/stride");
      out.push_back(item->integer);
    }
    return out;
  }

  PickleRef reduce(const PickleRef& fn, const PickleRef& args, std::size_t at) {
    if (fn->kind != Kind::Global || args->kind != Kind::Tuple) fail(at, "REDUCE of something that is not callable");
    const auto& a = args->items;
    if (fn->text == "collections OrderedDict") {
      if (!a.empty()) fail(at, "OrderedDict with arguments");
      return make(Kind::Dict);
    }
    if (fn->text == "torch._utils _rebuild_parameter") {
      if (a.empty() || a[0]->kind != Kind::Tensor) fail(at, "bad _rebuild_parameter arguments");
      return a[0];
    }
    if (fn->text == "torch._utils _rebuild_tensor_v2") {
      if (a.size() < 4 || a[0]->kind != Kind::Storage || a[1]->kind != Kind::Int || a[1]->integer < 0)
        fail(at, "bad _rebuild_tensor_v2 arguments");
      auto v = make(Kind::Tensor);
      v->tensor = std::make_unique<TensorRecord>(*a[0]->tensor);
      v->tensor->offset = a[1]->integer;
      v->tensor->shape = int_tuple(a[2], at);
      v->tensor->stride = int_tuple(a[3], at);
      if (v->tensor->shape.size() != v->tensor->stride.size()) fail(at, "tensor size and stride differ in rank");
      return v;
    }
    fail(at, "cannot call '" + fn->text + "'");
  }

  PickleRef new_object(const PickleRef& cls, std::size_t at) {
    if (cls->kind != Kind::Global || cls->text.rfind("__torch__.", 0) != 0) fail(at, "NEWOBJ of an unexpected class");
    auto v = make(Kind::Object);
    v->text = cls->text;
    return v;
  }

  void build(const PickleRef& target, const PickleRef& state) {
    if (target->kind == Kind::Object) {
      if (state->kind != Kind::Dict) fail(pos_, "module state is not a dict");
      // Shared, not copied: copying would let a few bytes re-copy one large dict per BUILD.
      target->items = {state};
    } else if (target->kind != Kind::Dict) {  // OrderedDict's BUILD sets _metadata: ignored
      fail(pos_, "BUILD on an unexpected object");
    }
  }

  std::span<const std::uint8_t> d_;
  const std::string& what_;
  Unpickled& out_;
  std::size_t pos_ = 0;
  std::vector<PickleRef> stack_;
  std::vector<std::size_t> marks_;
  std::vector<PickleRef> memo_;
  std::size_t max_objects_;
};

}  // namespace

Unpickled unpickle(std::span<const std::uint8_t> data, const std::string& what) {
  Unpickled out;
  out.root = Machine(data, what, out).run();
  return out;
}

}  // namespace clip::io
