// Hand-made checkpoint files for the security tests and the structure-aware fuzzers: a
// pickle writer with the opcodes torch.save uses, and a zip writer that can deflate
// entries and add central-directory entries that alias another entry's bytes.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace clip::test {

// Pickle protocol 2 opcodes, appended in order; read the calls as the pickle.
class PickleWriter {
 public:
  PickleWriter() { op(0x80).op(2); }
  PickleWriter& op(int code) {
    bytes_.push_back(static_cast<char>(code));
    return *this;
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    op('c');
    bytes_ += module + "\n" + name + "\n";
    return *this;
  }
  PickleWriter& str(const std::string& s) {  // BINUNICODE
    op('X');
    le(s.size(), 4);
    bytes_ += s;
    return *this;
  }
  PickleWriter& integer(std::int64_t v) {  // LONG1 with 8 bytes: any int64
    op(0x8a).op(8);
    le(static_cast<std::uint64_t>(v), 8);
    return *this;
  }
  PickleWriter& mark() { return op('('); }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& empty_tuple() { return op(')'); }
  PickleWriter& empty_dict() { return op('}'); }
  PickleWriter& setitems() { return op('u'); }
  PickleWriter& reduce() { return op('R'); }
  PickleWriter& persistent_id() { return op('Q'); }
  PickleWriter& newobj() { return op(0x81); }
  PickleWriter& build() { return op('b'); }
  PickleWriter& put(std::uint32_t i) {
    op('r');
    le(i, 4);
    return *this;
  }
  PickleWriter& get(std::uint32_t i) {
    op('j');
    le(i, 4);
    return *this;
  }
  PickleWriter& none() { return op('N'); }
  PickleWriter& pop() { return op('0'); }
  PickleWriter& stop() { return op('.'); }

  // collections.OrderedDict()
  PickleWriter& ordered_dict() { return global("collections", "OrderedDict").empty_tuple().reduce(); }
  // torch._utils._rebuild_tensor_v2(<storage key, numel>, offset, shape, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& key, std::int64_t storage_numel, std::int64_t offset,
                       const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark()
        .str("storage")
        .global("torch", "FloatStorage")
        .str(key)
        .str("cpu")
        .integer(storage_numel)
        .tuple()
        .persistent_id();
    integer(offset);
    mark();
    for (std::int64_t d : shape) integer(d);
    tuple().mark();
    for (std::int64_t s : stride) integer(s);
    tuple().op(0x89).ordered_dict().tuple().reduce();
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  std::string bytes_;
};

struct ZipPart {
  std::string name;
  std::string data;
  bool deflate = false;
  std::uint64_t declared_size = UINT64_MAX;  // the uncompressed size written; default: the real one
};

// A zip archive of `parts`; `aliases` adds central-directory entries (name, index of the
// part whose local header and bytes they point at).
inline std::string make_zip(const std::vector<ZipPart>& parts,
                            const std::vector<std::pair<std::string, std::size_t>>& aliases = {}) {
  std::string out, directory;
  const auto le = [](std::string& s, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  struct Written {
    std::uint32_t crc;
    std::uint64_t compressed, size, offset;
    int method;
  };
  std::vector<Written> written;
  for (const ZipPart& p : parts) {
    std::string payload = p.data;
    if (p.deflate) {
      z_stream z{};
      deflateInit2(&z, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      payload.resize(deflateBound(&z, p.data.size()));
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p.data.data()));
      z.avail_in = static_cast<uInt>(p.data.size());
      z.next_out = reinterpret_cast<Bytef*>(payload.data());
      z.avail_out = static_cast<uInt>(payload.size());
      deflate(&z, Z_FINISH);
      payload.resize(z.total_out);
      deflateEnd(&z);
    }
    const Written w{static_cast<std::uint32_t>(
                        crc32(0, reinterpret_cast<const Bytef*>(p.data.data()), static_cast<uInt>(p.data.size()))),
                    payload.size(), p.declared_size == UINT64_MAX ? p.data.size() : p.declared_size, out.size(),
                    p.deflate ? 8 : 0};
    written.push_back(w);
    le(out, 0x04034b50, 4);
    le(out, 20, 2), le(out, 0, 2), le(out, w.method, 2), le(out, 0, 4);
    le(out, w.crc, 4), le(out, w.compressed, 4), le(out, w.size, 4);
    le(out, p.name.size(), 2), le(out, 0, 2);
    out += p.name + payload;
  }
  const auto central = [&](const std::string& name, const Written& w) {
    le(directory, 0x02014b50, 4);
    le(directory, 20, 2), le(directory, 20, 2), le(directory, 0, 2), le(directory, w.method, 2), le(directory, 0, 4);
    le(directory, w.crc, 4), le(directory, w.compressed, 4), le(directory, w.size, 4);
    le(directory, name.size(), 2), le(directory, 0, 2), le(directory, 0, 2), le(directory, 0, 2), le(directory, 0, 2);
    le(directory, 0, 4), le(directory, w.offset, 4);
    directory += name;
  };
  for (std::size_t i = 0; i < parts.size(); ++i) central(parts[i].name, written[i]);
  for (const auto& [name, index] : aliases) central(name, written.at(index));
  const std::uint64_t count = parts.size() + aliases.size(), dir_offset = out.size();
  out += directory;
  le(out, 0x06054b50, 4);
  le(out, 0, 2), le(out, 0, 2), le(out, count, 2), le(out, count, 2);
  le(out, directory.size(), 4), le(out, dir_offset, 4), le(out, 0, 2);
  return out;
}

}  // namespace clip::test
