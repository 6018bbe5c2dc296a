// clip_cpp._clip_cpp: the public C++ API for Python, NumPy arrays in and out. Only what a
// binding must do lives here: array conversion (no copy where the layout allows), the GIL
// released around every computation, and images from PIL's raw pixels. The reference's
// shapes (torch tensors, PIL images, the model object) are clip_cpp/__init__.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "clip/clip.h"
#include "commands.h"  // cli::run

namespace py = pybind11;

namespace {

// A tensor's storage handed to NumPy without a copy: the array's base owns the tensor.
template <typename T>
py::array numpy_of(clip::Tensor tensor) {
  auto* owned = new clip::Tensor(std::move(tensor));
  py::capsule base(owned, [](void* p) { delete static_cast<clip::Tensor*>(p); });
  std::vector<py::ssize_t> shape(owned->shape().begin(), owned->shape().end());
  return py::array_t<T>(shape, owned->template data<T>(), base);
}

py::array to_numpy(clip::Tensor tensor) {
  switch (tensor.dtype()) {
    case clip::DType::Float32: return numpy_of<float>(std::move(tensor));
    case clip::DType::Int32: return numpy_of<std::int32_t>(std::move(tensor));
    case clip::DType::Int64: return numpy_of<std::int64_t>(std::move(tensor));
    case clip::DType::UInt8: return numpy_of<std::uint8_t>(std::move(tensor));
    default: return numpy_of<float>(tensor.to(clip::DType::Float32));
  }
}

// An array argument as a tensor over the array's memory. `array` keeps that memory alive
// (and must outlive `tensor`); it is the argument itself when it is already C-contiguous
// in the wanted dtype, else NumPy's converted copy.
struct ArrayIn {
  py::array array;
  clip::Tensor tensor;
};

template <typename T>
ArrayIn view_as(const py::handle& object) {
  auto array = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(object);
  if (!array) throw py::error_already_set();
  clip::Tensor::Shape shape(array.shape(), array.shape() + array.ndim());
  // The model only reads its inputs; the tensor never outlives this call.
  auto* data = reinterpret_cast<std::byte*>(const_cast<T*>(array.data()));
  clip::Tensor tensor = clip::Tensor::view(std::move(shape), clip::dtype_of<T>(), nullptr, data);
  return {std::move(array), std::move(tensor)};
}

// Images: numbers of any float or integer dtype, computed in float32 (as the reference
// after model.float()).
ArrayIn float_input(const py::handle& object, const char* what) {
  const py::array array = py::array::ensure(object);
  if (!array || !std::strchr("fiub", array.dtype().kind()))
    throw py::type_error(std::string(what) + ": expected an array of numbers, got " +
                         std::string(py::str(py::type::of(object))));
  return view_as<float>(array);
}

// Token ids: int32 as is, other integers as int64 (the reference's embedding takes either).
ArrayIn token_input(const py::handle& object, const char* what) {
  const py::array array = py::array::ensure(object);
  if (!array || !std::strchr("iu", array.dtype().kind()))
    throw py::type_error(
        std::string(what) + ": token ids must be integers (clip_cpp.tokenize makes them), got " +
        (array ? "dtype " + std::string(py::str(array.dtype())) : std::string(py::str(py::type::of(object)))));
  if (array.dtype().is(py::dtype::of<std::int32_t>())) return view_as<std::int32_t>(array);
  return view_as<std::int64_t>(array);
}

// An image from PIL's raw pixels (Image.tobytes(), and getpalette() for mode P), in the
// modes clip::Image holds: what Image.open gives for every format this library reads.
clip::Image image_from_pixels(const std::string& mode, int width, int height, const py::bytes& data,
                              const py::bytes& palette) {
  static const std::pair<const char*, clip::ImageMode> modes[] = {
      {"1", clip::ImageMode::One},     {"L", clip::ImageMode::L},     {"LA", clip::ImageMode::LA},
      {"P", clip::ImageMode::P},       {"RGB", clip::ImageMode::RGB}, {"RGBA", clip::ImageMode::RGBA},
      {"CMYK", clip::ImageMode::CMYK}, {"I", clip::ImageMode::I},     {"I;16", clip::ImageMode::I16},
      {"LAB", clip::ImageMode::LAB},   {"F", clip::ImageMode::F}};
  const auto* found = std::find_if(std::begin(modes), std::end(modes), [&](const auto& m) { return mode == m.first; });
  if (found == std::end(modes))
    throw py::value_error(
        "preprocess: PIL mode '" + mode +
        "' is not supported (1, L, LA, P, RGB, RGBA, CMYK, I, I;16, F, LAB are); convert the image first, "
        "e.g. image.convert('RGB')");
  if (width <= 0 || height <= 0)
    throw py::value_error("preprocess: the image is " + std::to_string(width) + "x" + std::to_string(height));
  clip::Image image(found->second, width, height);
  const std::string_view bytes = data, colours = palette;
  const std::size_t pixels = std::size_t(width) * std::size_t(height);
  const std::size_t sample = found->second == clip::ImageMode::I || found->second == clip::ImageMode::F ? 4
                             : found->second == clip::ImageMode::I16                                    ? 2
                                                                                                        : 0;
  const std::size_t want = sample ? pixels * sample : image.pixels().size();
  if (bytes.size() != want)
    throw py::value_error("preprocess: " + std::to_string(bytes.size()) + " bytes of pixels for a " +
                          std::to_string(width) + "x" + std::to_string(height) + " image of mode " + mode + " (" +
                          std::to_string(want) + " expected)");
  if (sample == 4) {
    std::memcpy(image.wide_pixels().data(), bytes.data(), want);  // Pillow's "I", "F": native int32, float
  } else if (sample == 2) {
    for (std::size_t i = 0; i < pixels; ++i)  // "I;16": little-endian uint16
      image.wide_pixels()[i] = std::uint8_t(bytes[2 * i]) | std::uint8_t(bytes[2 * i + 1]) << 8;
  } else {
    std::memcpy(image.pixels().data(), bytes.data(), want);
  }
  if (found->second == clip::ImageMode::LAB)  // tobytes() packs a and b signed ("LAB" rawmode)
    for (std::size_t i = 0; i < pixels; ++i) image.pixels()[3 * i + 1] ^= 128, image.pixels()[3 * i + 2] ^= 128;
  if (found->second == clip::ImageMode::P) {
    if (colours.size() % 3 || colours.size() > 768)
      throw py::value_error("preprocess: a palette of " + std::to_string(colours.size()) + " bytes");
    image.palette().resize(colours.size() / 3);
    std::memcpy(image.palette().data(), colours.data(), colours.size());
  }
  return image;
}

template <typename F>
py::array compute(F&& f) {
  clip::Tensor result;
  {
    py::gil_scoped_release release;
    result = f();
  }
  return to_numpy(std::move(result));
}

// "float32" / "float16", the dtypes parts hold.
clip::DType dtype_of_name(const std::string& name) {
  if (name == "float32") return clip::DType::Float32;
  if (name == "float16") return clip::DType::Float16;
  throw py::value_error("dtype is 'float32' or 'float16', not " + name);
}

}  // namespace

PYBIND11_MODULE(_clip_cpp, m) {
  m.doc() = "clip-cpp's C++ API (NumPy arrays); use the clip_cpp package";
  m.attr("__version__") = CLIP_VERSION_STRING;

  m.def("available_models", &clip::available_models);
  m.def("builtin_models", &clip::builtin_models);
  m.def("open_clip_models", &clip::open_clip_models);
  m.def("set_num_threads", &clip::set_num_threads, py::arg("threads"));
  m.def("get_num_threads", &clip::get_num_threads);
  m.def("default_device", &clip::default_device);

  m.def(
      "tokenize",
      [](const std::vector<std::string>& texts, int context_length, bool truncate) {
        if (context_length < 0 || context_length > clip::kMaxContextLength)
          throw py::value_error("tokenize: context_length " + std::to_string(context_length) + " is not in 0.." +
                                std::to_string(clip::kMaxContextLength));
        return compute([&] { return clip::tokenize(texts, context_length, truncate); });
      },
      py::arg("texts"), py::arg("context_length") = 77, py::arg("truncate") = false);
  m.def(
      "softmax",
      [](const py::handle& x, int dim) {
        ArrayIn in = float_input(x, "softmax");
        return compute([&] { return clip::softmax(in.tensor, dim); });
      },
      py::arg("x"), py::arg("dim") = -1);
  m.def(
      "normalize",
      [](const py::handle& x) {
        ArrayIn in = float_input(x, "normalize");
        return compute([&] { return clip::normalize(in.tensor); });
      },
      py::arg("x"));

  py::class_<clip::Preprocess>(m, "Preprocess")
      .def(py::init<int>(), py::arg("n_px") = 224)
      .def_property_readonly("size", &clip::Preprocess::size)
      .def_property_readonly("mean", [](const clip::Preprocess& p) { return p.config().mean; })
      .def_property_readonly("std", [](const clip::Preprocess& p) { return p.config().std; })
      .def_property_readonly("interpolation", [](const clip::Preprocess& p) { return p.config().interpolation; })
      .def_property_readonly("resize_mode", [](const clip::Preprocess& p) { return p.config().resize_mode; })
      .def(
          "from_path",
          [](const clip::Preprocess& p, const std::filesystem::path& path, bool exif) {
            clip::ImageOptions options;
            options.apply_exif_orientation = exif;
            return compute([&] { return p(path, options); });
          },
          py::arg("path"), py::arg("exif_orientation") = false)
      .def(
          "from_bytes",
          [](const clip::Preprocess& p, const py::bytes& data, bool exif) {
            const std::string_view bytes = data;
            clip::ImageOptions options;
            options.apply_exif_orientation = exif;
            return compute([&] {
              const auto* begin = reinterpret_cast<const std::uint8_t*>(bytes.data());
              return p({begin, bytes.size()}, "<bytes>", options);
            });
          },
          py::arg("data"), py::arg("exif_orientation") = false)
      .def(
          "from_pixels",
          [](const clip::Preprocess& p, const std::string& mode, int width, int height, const py::bytes& data,
             const py::bytes& palette) {
            clip::Image image = image_from_pixels(mode, width, height, data, palette);
            return compute([&] { return p(image); });
          },
          py::arg("mode"), py::arg("width"), py::arg("height"), py::arg("data"), py::arg("palette") = py::bytes());

  py::class_<clip::Model>(m, "Model")
      .def("encode_image",
           [](const clip::Model& model, const py::handle& images) {
             ArrayIn in = float_input(images, "encode_image");
             return compute([&] { return model.encode_image(in.tensor); });
           })
      .def("encode_text",
           [](const clip::Model& model, const py::handle& tokens) {
             ArrayIn in = token_input(tokens, "encode_text");
             return compute([&] { return model.encode_text(in.tensor); });
           })
      .def("forward",
           [](const clip::Model& model, const py::handle& images, const py::handle& tokens) {
             ArrayIn image = float_input(images, "model(image, text)");
             ArrayIn text = token_input(tokens, "model(image, text)");
             std::pair<clip::Tensor, clip::Tensor> logits;
             {
               py::gil_scoped_release release;
               logits = model(image.tensor, text.tensor);
             }
             return py::make_tuple(to_numpy(std::move(logits.first)), to_numpy(std::move(logits.second)));
           })
      .def_property_readonly("input_resolution", &clip::Model::input_resolution)
      .def_property_readonly("context_length", &clip::Model::context_length)
      .def_property_readonly("vocab_size", [](const clip::Model& model) { return model.config().vocab_size; })
      .def_property_readonly("embed_dim", [](const clip::Model& model) { return model.config().embed_dim; })
      .def_property_readonly("logit_scale", &clip::Model::logit_scale)
      .def_property_readonly("jit", &clip::Model::jit)
      .def_property_readonly("device", &clip::Model::device)
      .def_property_readonly(
          "precision",
          [](const clip::Model& model) { return model.precision() == clip::Precision::BF16 ? "bf16" : "fp32"; })
      .def_property_readonly("config_json", [](const clip::Model& model) { return model.config().to_json(); })
      .def("set_num_threads", &clip::Model::set_num_threads, py::arg("threads"))
      .def_property_readonly("num_threads", &clip::Model::num_threads);

  m.def(
      "load",
      [](const std::string& name, const std::string& device, bool jit, const std::filesystem::path& download_root,
         const std::string& precision, const std::filesystem::path& config) {
        const clip::Precision p = clip::parse_precision(precision);
        py::gil_scoped_release release;  // reading (or downloading) the weights
        return clip::load(name, device, jit, download_root, p, config);
      },
      py::arg("name"), py::arg("device") = "cpu", py::arg("jit") = false, py::arg("download_root") = "",
      py::arg("precision") = "fp32", py::arg("config") = "");

  // clip_cpp.distributed: a sharded run's parts (clip/collection.h). Shards travel as
  // (files, tar) pairs, the plan's skipped entries as (path, reason) pairs.
  using ShardTuple = std::pair<std::vector<std::string>, std::string>;
  m.def(
      "plan_collection",
      [](const std::vector<std::string>& inputs, std::size_t part_size) {
        clip::CollectionPlan plan;
        {
          py::gil_scoped_release release;
          plan = clip::plan_collection(inputs, part_size);
        }
        std::vector<ShardTuple> shards;
        for (clip::Shard& s : plan.shards) shards.emplace_back(std::move(s.files), std::move(s.tar));
        return std::make_pair(shards, plan.skipped);
      },
      py::arg("inputs"), py::arg("part_size"));
  m.def("part_name", &clip::part_name, py::arg("part"));
  m.def("model_reference", &clip::model_reference, py::arg("name"));
  m.def("part_done", &clip::part_done, py::arg("dir"), py::arg("part"));
  m.def(
      "model_check",
      [](const clip::Model& model) {
        py::gil_scoped_release release;
        return clip::model_check(model);
      },
      py::arg("model"));
  m.def(
      "begin_run",
      [](const std::filesystem::path& dir, const std::vector<ShardTuple>& shards,
         const std::vector<std::pair<std::string, std::string>>& skipped, const std::string& model,
         const std::string& config, const std::string& precision, const std::vector<float>& check,
         const std::string& dtype, int batch, std::size_t part_size) {
        clip::CollectionPlan plan;
        for (const auto& [files, tar] : shards) plan.shards.push_back(clip::Shard{files, tar});
        plan.skipped = skipped;
        clip::RunInfo info{model, config, precision, check, dtype_of_name(dtype), batch, part_size};
        py::gil_scoped_release release;
        clip::begin_run(dir, plan, info);
      },
      py::arg("dir"), py::arg("shards"), py::arg("skipped"), py::arg("model"), py::arg("config"), py::arg("precision"),
      py::arg("check"), py::arg("dtype"), py::arg("batch"), py::arg("part_size"));
  m.def(
      "embed_part",
      [](const clip::Model& model, const clip::Preprocess& preprocess, const ShardTuple& shard, std::size_t part,
         const std::filesystem::path& dir, int batch, const std::string& dtype, int decode_threads, int cpus,
         bool exif_orientation) {
        clip::PartOptions options;
        options.batch = batch;
        options.dtype = dtype_of_name(dtype);
        options.decode_threads = decode_threads;
        options.cpus = cpus;
        options.image.apply_exif_orientation = exif_orientation;
        py::gil_scoped_release release;
        const clip::PartSummary s =
            clip::embed_part(model, preprocess, clip::Shard{shard.first, shard.second}, part, dir, options);
        return std::make_tuple(s.items, s.embedded, s.failed);
      },
      py::arg("model"), py::arg("preprocess"), py::arg("shard"), py::arg("part"), py::arg("dir"), py::arg("batch") = 16,
      py::arg("dtype") = "float32", py::arg("decode_threads") = 0, py::arg("cpus") = 0,
      py::arg("exif_orientation") = false);
  m.def(
      "finish_run",
      [](const std::filesystem::path& dir) {
        py::gil_scoped_release release;
        const clip::PartSummary s = clip::finish_run(dir);
        return std::make_tuple(s.items, s.embedded, s.failed);
      },
      py::arg("dir"));

  // `python -m clip_cpp ARGS`: the clip tool, in this process.
  m.def("run_cli", [](std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    py::gil_scoped_release release;
    const int status = cli::run(static_cast<int>(args.size()), argv.data());
    std::cout.flush();
    return status;
  });
}
