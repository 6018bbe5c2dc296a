// PyTorch zip checkpoints: data.pkl (a module tree for TorchScript archives, an
// OrderedDict for torch.save) read with the restricted unpickler; tensor storages in
// data/<key> entries, used in place from the mapped file.
#include <cstring>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "clip/error.h"
#include "core/checked.h"
#include "core/threads.h"
#include "io/pickle.h"
#include "io/readers.h"
#include "io/zip.h"

namespace clip::io {
namespace {

using Kind = PickleValue::Kind;

// data.pkl of the fixture models is 6 to 22 KB; OpenAI's ViT-L/14 has about ten times their
// tensors and modules. 16 MiB is hundreds of times what a CLIP model needs, and bounds
// the unpickler's memory (PickleLimits) to a few hundred MB.
constexpr std::uint64_t kMaxPickle = std::uint64_t{16} << 20;
// All deflated entries together (data.pkl included, when compressed).
constexpr std::uint64_t kMaxInflated = std::uint64_t{64} << 20;

class TensorMaker {
 public:
  TensorMaker(const ZipReader& zip, std::string prefix) : zip_(zip), prefix_(std::move(prefix)) {}

  Tensor make(const TensorRecord& r, const std::string& key) {
    const std::string where = zip_.file()->path().string() + ": tensor '" + key + "'";
    const ZipEntry* entry = zip_.find(prefix_ + "data/" + r.storage_key);
    if (!entry) throw Error(where + " refers to missing storage data/" + r.storage_key);
    const auto bytes = zip_.stored_bytes(*entry);
    const std::size_t elem = dtype_size(r.dtype);
    // Every size below comes from the file: products are checked, so that a storage of
    // 2^62 + n elements cannot wrap around to the entry's real size.
    if (core::checked_mul(static_cast<std::uint64_t>(r.storage_numel), elem, where) != bytes.size())
      throw Error(where + ": storage size does not match its entry (corrupt file)");
    const std::int64_t numel = core::checked_numel(r.shape, where);  // bounds the partial products below
    // Contiguous, row-major: the only layout CLIP checkpoints use (an empty tensor has no
    // layout; for the others every partial product is at most numel).
    std::int64_t expected = 1;
    for (std::size_t i = r.shape.size(); numel > 0 && i-- > 0;) {
      if (r.shape[i] != 1 && r.stride[i] != expected)
        throw Error(where + " is not contiguous (stride " + Tensor::shape_string_of(r.stride) + "), unsupported");
      expected *= r.shape[i];
    }
    // [offset, offset + numel) inside [0, storage_numel), in elements, without overflow.
    if (r.offset > r.storage_numel || numel > r.storage_numel - r.offset)
      throw Error(where + " lies outside its storage (corrupt file)");
    std::byte* data = reinterpret_cast<std::byte*>(bytes.data()) + r.offset * static_cast<std::int64_t>(elem);
    if (reinterpret_cast<std::uintptr_t>(data) % elem != 0) {  // misaligned: copy
      Tensor t(r.shape, r.dtype);
      std::memcpy(t.raw_data(), data, t.nbytes());
      return t;
    }
    return Tensor::view(r.shape, r.dtype, zip_.file(), data);
  }

 private:
  const ZipReader& zip_;
  std::string prefix_;
};

// Depth-first over the module tree: the dotted attribute path of every tensor is its
// state-dict key, in the order torch's state_dict() gives. Each module object is visited
// once: a pickle can make every level point twice at the next, and walking that as a tree
// takes 2^depth steps (issue #15). CLIP's modules are never shared, so a second visit is
// refused rather than expanded.
void walk_module(const PickleValue& module, const std::string& prefix, TensorMaker& maker,
                 std::vector<std::pair<std::string, Tensor>>& out, std::unordered_set<const PickleValue*>& seen,
                 int depth) {
  if (depth > 64) throw Error("module tree too deep");
  if (!seen.insert(&module).second)
    throw Error("module '" + prefix + "' is shared with another attribute, which a CLIP model never does");
  if (module.items.empty()) return;  // no state
  for (const auto& [name, value] : module.items[0]->entries) {
    if (name->kind != Kind::String) continue;
    if (value->kind == Kind::Tensor)
      out.emplace_back(prefix + name->text, maker.make(*value->tensor, prefix + name->text));
    else if (value->kind == Kind::Object)
      walk_module(*value, prefix + name->text + ".", maker, out, seen, depth + 1);
  }
}

}  // namespace

LoadedTensors read_torch_zip(std::shared_ptr<MappedFile> file) {
  const std::filesystem::path path = file->path();
  const ZipReader zip(std::move(file));
  // <prefix>/data.pkl at the top level of the archive; the prefix comes from the file name
  // at save time, so it is found, not assumed.
  const ZipEntry* pickle = nullptr;
  std::uint64_t inflated = 0;
  for (const ZipEntry& e : zip.entries()) {
    const std::size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pickle)
        throw Error("cannot read " + path.string() + ": two data.pkl entries (" + pickle->name + ", " + e.name + ")");
      pickle = &e;
    }
    if (e.method != 0) inflated = core::checked_add(inflated, e.size, "cannot read " + path.string());
  }
  if (!pickle) throw Error("cannot read " + path.string() + ": no data.pkl (not a PyTorch checkpoint)");
  if (pickle->size > kMaxPickle)
    throw Error("cannot read " + path.string() + ": data.pkl is larger than " + std::to_string(kMaxPickle >> 20) +
                " MiB");
  // PyTorch stores tensor storages uncompressed; only small entries can be deflated, so the
  // total that may be inflated is bounded by what a model can need.
  if (inflated > kMaxInflated)
    throw Error("cannot read " + path.string() + ": its compressed entries inflate to more than " +
                std::to_string(kMaxInflated >> 20) +
                " MiB (PyTorch stores weights uncompressed; was the file re-zipped?)");
  const std::string prefix = pickle->name.substr(0, pickle->name.size() - 8);
  // Every entry's CRC, so that damage anywhere in the archive is reported, not only in the
  // parts the weights come from.
  // On all the threads allowed (clip::set_num_threads): a few hundred MB of CRC is a good
  // part of a cold start. The first error
  // (in entry order) is the one reported.
  const auto& entries = zip.entries();
  std::vector<std::string> errors(entries.size());
  core::on_own_thread([&] {  // no idle OpenMP team left on the caller's thread (core/threads.h)
#pragma omp parallel for schedule(dynamic) num_threads(core::loop_threads())
    for (std::size_t i = 0; i < entries.size(); ++i) {
      try {
        zip.verify(entries[i]);
      } catch (const std::exception& e) {  // nothing may escape an OpenMP region
        errors[i] = e.what();
      }
    }
  });
  for (const std::string& error : errors)
    if (!error.empty()) throw Error(error);
  // Reading every byte made the whole file resident; let the weights come back as they
  // are used, so that peak memory is not the file plus the model built from it.
  zip.file()->release_pages();
  const std::vector<std::uint8_t> bytes = zip.read(*pickle);
  const Unpickled pickled = unpickle(bytes, path.string() + " (" + pickle->name + ")");
  const PickleRef root = pickled.root;

  LoadedTensors loaded;
  TensorMaker maker(zip, prefix);
  if (root->kind == Kind::Object) {
    loaded.format = "torchscript";
    std::unordered_set<const PickleValue*> seen;
    walk_module(*root, "", maker, loaded.tensors, seen, 0);
  } else if (root->kind == Kind::Dict) {
    loaded.format = "torch.save";
    for (const auto& [key, value] : root->entries) {
      if (key->kind != Kind::String || value->kind != Kind::Tensor)
        throw Error("cannot read " + path.string() + ": the state dict holds something other than named tensors");
      loaded.tensors.emplace_back(key->text, maker.make(*value->tensor, key->text));
    }
  } else {
    throw Error("cannot read " + path.string() + ": data.pkl holds neither a module nor a state dict");
  }
  // OpenAI's weights (the only TorchScript CLIP archives) use QuickGELU.
  if (loaded.format == "torchscript") loaded.activation = Activation::QuickGELU;
  return loaded;
}

}  // namespace clip::io
