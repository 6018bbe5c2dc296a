// safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the data. Files with the Hugging Face transformers
// names (openai/clip-vit-*) are renamed to the OpenAI state-dict names.
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "clip/atomic_file.h"
#include "clip/error.h"
#include "core/checked.h"
#include "core/file.h"
#include "io/mapped_file.h"
#include "io/readers.h"
#include "io/schema.h"

namespace clip {
namespace io {
namespace {

constexpr std::uint64_t kMaxHeader = 100 << 20;  // the format's own limit
// Keys and values in the header, all levels together. A tensor takes about 12 (dtype,
// shape, two offsets); OpenAI's largest model has 700 tensors, open_clip's ViT-bigG-14
// under 1,000. 2^21 allows over 100,000 tensors and bounds the parsed header's memory.
constexpr std::size_t kMaxHeaderItems = std::size_t{1} << 21;

const std::map<std::string, DType>& dtype_names() {
  static const std::map<std::string, DType> names = {
      {"F32", DType::Float32}, {"F16", DType::Float16}, {"BF16", DType::BFloat16}, {"F64", DType::Float64},
      {"I64", DType::Int64},   {"I32", DType::Int32},   {"U8", DType::UInt8},      {"BOOL", DType::UInt8}};
  return names;
}

// The SAX pass over a safetensors header: counts keys and values (all levels) against
// kMaxHeaderItems and refuses a tensor name given twice. Syntax errors are left to the
// parse that follows.
class HeaderCounter : public nlohmann::json::json_sax_t {
 public:
  bool null() override { return count(); }
  bool boolean(bool) override { return count(); }
  bool number_integer(number_integer_t) override { return count(); }
  bool number_unsigned(number_unsigned_t) override { return count(); }
  bool number_float(number_float_t, const string_t&) override { return count(); }
  bool string(string_t&) override { return count(); }
  bool binary(binary_t&) override { return count(); }
  bool start_object(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool key(string_t& name) override {
    if (depth_ == 1 && !names_.insert(name).second)
      throw Error("tensor '" + name + "' appears twice in the safetensors header");
    return count();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception&) override { return false; }

 private:
  bool open() {
    ++depth_;
    return count();
  }
  bool close() {
    --depth_;
    return true;
  }
  bool count() {
    if (++items_ > kMaxHeaderItems)
      throw Error("the safetensors header holds more than " + std::to_string(kMaxHeaderItems) + " keys and values");
    return true;
  }
  std::size_t items_ = 0;
  int depth_ = 0;
  std::unordered_set<std::string> names_;
};

// Concatenates q, k and v along the first dimension into the fused in_proj. Each part's
// shape and dtype are checked before anything is allocated or copied: the output was once
// sized from the first part while every part was copied whole (a heap overflow with a
// larger k_proj, issue #15).
Tensor fuse_qkv(const std::vector<Tensor>& parts, const std::string& what) {
  const Tensor& q = parts.at(0);
  for (const Tensor& p : parts)
    if (p.dim() < 1 || p.dim() > 2 || p.shape() != q.shape() || p.dtype() != q.dtype())
      throw Error(what + ": q/k/v projections must have the same shape and dtype, got " + q.shape_string() + " " +
                  dtype_name(q.dtype()) + " and " + p.shape_string() + " " + dtype_name(p.dtype()));
  Tensor::Shape shape = q.shape();
  shape[0] *= static_cast<std::int64_t>(parts.size());
  Tensor out(shape, q.dtype());
  for (std::size_t i = 0; i < parts.size(); ++i)
    std::memcpy(out.raw_data() + i * q.nbytes(), parts[i].raw_data(), q.nbytes());
  return out;
}

Tensor transpose2d(const Tensor& t) {
  if (t.dim() != 2) throw Error("expected a matrix, got shape " + t.shape_string());
  const std::int64_t rows = t.size(0), cols = t.size(1);
  const std::size_t elem = dtype_size(t.dtype());
  Tensor out({cols, rows}, t.dtype());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      std::memcpy(out.raw_data() + (c * rows + r) * elem, t.raw_data() + (r * cols + c) * elem, elem);
  return out;
}

// Hugging Face CLIPModel names -> OpenAI names.
std::vector<std::pair<std::string, Tensor>> from_hugging_face(std::vector<std::pair<std::string, Tensor>> hf,
                                                              const std::string& where) {
  std::map<std::string, Tensor> in(hf.begin(), hf.end());
  const auto take = [&](const std::string& key) -> Tensor {
    const auto it = in.find(key);
    if (it == in.end()) throw Error(where + ": Hugging Face CLIP tensor '" + key + "' is missing");
    Tensor t = it->second;
    in.erase(it);
    return t;
  };
  // Our names come from the state-dict schema; theirs are spelled here, the one place.
  namespace sc = schema;
  std::vector<std::pair<std::string, Tensor>> out;
  const auto weight_and_bias = [&](const std::string& ours, const std::string& theirs) {
    for (const char* p : {"weight", "bias"}) out.emplace_back(ours + p, take(theirs + p));
  };
  const auto tower = [&](const std::string& hf_prefix, const std::string& blocks) {
    for (int i = 0;; ++i) {
      const std::string l = hf_prefix + "encoder.layers." + std::to_string(i) + ".";
      if (!in.count(l + "self_attn.q_proj.weight")) break;
      const std::string o = blocks + std::to_string(i) + ".";
      for (const auto& [ours, part] : {std::pair{sc::kInProjWeight, "weight"}, std::pair{sc::kInProjBias, "bias"}})
        out.emplace_back(o + ours, fuse_qkv({take(l + "self_attn.q_proj." + part), take(l + "self_attn.k_proj." + part),
                                             take(l + "self_attn.v_proj." + part)},
                                            where + ": " + l + "self_attn"));
      weight_and_bias(o + sc::kOutProj, l + "self_attn.out_proj.");
      weight_and_bias(o + sc::kLn1, l + "layer_norm1.");
      weight_and_bias(o + sc::kMlpFc, l + "mlp.fc1.");
      weight_and_bias(o + sc::kMlpProj, l + "mlp.fc2.");
      weight_and_bias(o + sc::kLn2, l + "layer_norm2.");
    }
  };
  out.emplace_back(sc::kPositionalEmbedding, take("text_model.embeddings.position_embedding.weight"));
  out.emplace_back(sc::kTextProjection, transpose2d(take("text_projection.weight")));
  out.emplace_back(sc::kLogitScale, take("logit_scale"));
  out.emplace_back(sc::kVitClassEmbedding, take("vision_model.embeddings.class_embedding"));
  out.emplace_back(sc::kVitPositionalEmbedding, take("vision_model.embeddings.position_embedding.weight"));
  out.emplace_back(sc::kVitProj, transpose2d(take("visual_projection.weight")));
  out.emplace_back(sc::kVitPatchConv, take("vision_model.embeddings.patch_embedding.weight"));
  weight_and_bias(sc::kVitLnPre, "vision_model.pre_layrnorm.");
  tower("vision_model.", sc::kVitBlocks);
  weight_and_bias(sc::kVitLnPost, "vision_model.post_layernorm.");
  tower("text_model.", sc::kTextBlocks);
  out.emplace_back(sc::kTokenEmbedding, take("text_model.embeddings.token_embedding.weight"));
  weight_and_bias(sc::kLnFinal, "text_model.final_layer_norm.");
  // Position-id buffers are not weights.
  for (auto it = in.begin(); it != in.end();) it = it->first.ends_with("position_ids") ? in.erase(it) : std::next(it);
  if (!in.empty()) throw Error(where + ": unexpected Hugging Face tensor '" + in.begin()->first + "'");
  return out;
}

// The activation a config beside the weights declares, if any.
std::optional<Activation> sidecar_activation(const std::filesystem::path& weights) {
  const auto dir = weights.parent_path();
  // Beside a downloaded file may be anything: regular files only, and small ones.
  const auto read_json = [](const std::filesystem::path& p) {
    const auto bytes = core::read_regular_file(p, "model config", std::uint64_t{16} << 20);
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  };
  try {
    if (std::filesystem::exists(dir / "config.json")) {
      const auto j = read_json(dir / "config.json");
      for (const char* part : {"text_config", "vision_config"})
        if (j.contains(part) && j[part].contains("hidden_act"))
          return j[part]["hidden_act"] == "quick_gelu" ? Activation::QuickGELU : Activation::GELU;
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error("cannot read the model config beside " + weights.string() + ": " + e.what());
  }
  return std::nullopt;
}

}  // namespace

LoadedTensors read_safetensors(std::shared_ptr<MappedFile> file) {
  const std::filesystem::path& path = file->path();
  const auto bytes = file->bytes();
  const std::string where = "cannot read " + path.string();
  if (bytes.size() < 8) throw Error(where + ": truncated safetensors header");
  std::uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxHeader || header_len > bytes.size() - 8) throw Error(where + ": bad safetensors header length");
  // Counted first, without building anything (a SAX pass), so that a header of millions of
  // small items is refused before it is built; then parsed into a plain (sorted) object.
  // ordered_json inserts in linear time per key, and nlohmann's callback parser scans the
  // parent object at every object's end: 100,000 keys took 25 s and 320 s (issue #15).
  HeaderCounter counter;
  nlohmann::json header;
  const auto first = bytes.begin() + 8, last = first + static_cast<std::ptrdiff_t>(header_len);
  try {
    nlohmann::json::sax_parse(first, last, &counter);
    header = nlohmann::json::parse(first, last);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": corrupt safetensors header (" + e.what() + ")");
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  if (!header.is_object()) throw Error(where + ": corrupt safetensors header");
  const std::uint64_t data_start = 8 + header_len, data_size = bytes.size() - data_start;

  LoadedTensors loaded;
  loaded.format = "safetensors";
  // Tensors in file (offset) order, so keys come out as the writer laid them down.
  std::vector<std::tuple<std::uint64_t, std::uint64_t, std::string, DType, Tensor::Shape>> items;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const auto dtype = dtype_names().find(info.at("dtype").get<std::string>());
      if (dtype == dtype_names().end()) throw Error("unsupported dtype " + info.at("dtype").get<std::string>());
      // Numbers are checked to be integers before conversion (a huge float is not an offset).
      const auto integers = [](const nlohmann::json& a, const char* what) {
        if (!a.is_array()) throw Error(std::string(what) + " is not a list");
        for (const auto& v : a)
          if (!v.is_number_integer()) throw Error(std::string(what) + " holds something other than integers");
        return a;
      };
      Tensor::Shape shape = integers(info.at("shape"), "shape").get<Tensor::Shape>();
      const auto offset_list = integers(info.at("data_offsets"), "data_offsets");
      for (const auto& v : offset_list)
        if (!v.is_number_unsigned()) throw Error("negative data offset");
      const auto offsets = offset_list.get<std::vector<std::uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw Error("byte range outside the file");
      const std::uint64_t need = core::checked_mul(static_cast<std::uint64_t>(core::checked_numel(shape, "shape")),
                                                   dtype_size(dtype->second), "shape");
      if (need != offsets[1] - offsets[0]) throw Error("shape does not match its byte range");
      items.emplace_back(offsets[0], offsets[1], name, dtype->second, std::move(shape));
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": tensor '" + name + "': bad header entry (" + e.what() + ")");
    } catch (const Error& e) {
      throw Error(where + ": tensor '" + name + "': " + e.what());
    }
  }
  std::sort(items.begin(), items.end());
  for (std::size_t i = 1; i < items.size(); ++i)
    if (std::get<0>(items[i]) < std::get<1>(items[i - 1])) throw Error(where + ": tensors overlap (corrupt file)");
  for (auto& [begin, end, name, dtype, shape] : items) {
    std::byte* data = reinterpret_cast<std::byte*>(bytes.data() + data_start + begin);
    if (reinterpret_cast<std::uintptr_t>(data) % dtype_size(dtype) != 0) {
      Tensor t(shape, dtype);
      std::memcpy(t.raw_data(), data, t.nbytes());
      loaded.tensors.emplace_back(name, std::move(t));
    } else {
      loaded.tensors.emplace_back(name, Tensor::view(shape, dtype, file, data));
    }
  }
  const bool hugging_face = std::any_of(loaded.tensors.begin(), loaded.tensors.end(), [](const auto& kv) {
    return kv.first.rfind("text_model.", 0) == 0 || kv.first.rfind("vision_model.", 0) == 0;
  });
  if (hugging_face) {
    loaded.format = "safetensors (Hugging Face)";
    loaded.tensors = from_hugging_face(std::move(loaded.tensors), where);
  }
  loaded.activation = sidecar_activation(path);
  return loaded;
}

}  // namespace io

void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    std::string dtype;
    for (const auto& [n, d] : io::dtype_names())
      if (d == t.dtype() && n != "BOOL") dtype = n;
    header[name] = {{"dtype", dtype}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  write_atomically(path, [&](std::ostream& out) {
    const std::uint64_t len = text.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : tensors)
      out.write(reinterpret_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  });
}

}  // namespace clip
