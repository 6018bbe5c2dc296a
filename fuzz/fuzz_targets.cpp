// libFuzzer targets, one per parser entry point; CLIP_FUZZ_TARGET selects which (see
// fuzz/CMakeLists.txt). Each must either succeed or throw clip::Error: a crash, a hang,
// a sanitizer report or any other exception is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "clip/checkpoint.h"
#include "clip/error.h"
#include "clip/image.h"
#include "clip/tokenizer.h"
#include "image/decoders.h"
#include "io/crafted_files.h"
#include "io/pickle.h"
#include "io/readers.h"
#include "io/zip.h"
#include "requests.h"  // cli/: the JSON bodies of clip serve

namespace {

using Bytes = std::span<const std::uint8_t>;

// Readers that take a path get the input through a file in memory-backed /dev/shm.
std::filesystem::path as_file(Bytes data, const char* suffix) {
  static const std::filesystem::path path =
      std::filesystem::path(std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp") /
      ("clip_fuzz_" + std::to_string(::getpid()) + suffix);
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return path;
}

clip::ImageOptions small_images() {
  clip::ImageOptions o;
  o.max_pixels = 1 << 22;  // keeps memory within libFuzzer's limit
  return o;
}

// Loads a torch zip from a heap copy, so that AddressSanitizer sees every tensor's bounds
// (a mapped file's neighbouring pages are not poisoned), and reads every tensor byte.
void load_torch_zip(const std::string& zip) {
  const auto file =
      clip::io::MappedFile::copy_of({reinterpret_cast<const std::uint8_t*>(zip.data()), zip.size()}, "fuzz.pt");
  volatile std::uint8_t sink = 0;
  for (const auto& [name, tensor] : clip::io::read_torch_zip(file).tensors)
    for (std::size_t i = 0; i < tensor.nbytes(); ++i) sink = sink + static_cast<std::uint8_t>(tensor.raw_data()[i]);
}

// torch_pickle: the input is data.pkl, beside storages "0".."3" of 0, 16, 64 and 4096
// bytes, so that mutated numbers (sizes near 2^62, offsets, strides) and shared references
// reach the tensor checks and the module walk.
void fuzz_torch_pickle(Bytes data) {
  using clip::test::ZipPart;
  load_torch_zip(clip::test::make_zip({{"archive/data.pkl", std::string(data.begin(), data.end())},
                                       {"archive/data/0", ""},
                                       {"archive/data/1", std::string(16, '\1')},
                                       {"archive/data/2", std::string(64, '\2')},
                                       {"archive/data/3", std::string(4096, '\3')}}));
}

// zip_layout: the input describes the archive: records of [name byte, flag byte, 2-byte
// length, payload]. Names come from a short list (so duplicates happen), flags deflate the
// entry, lie about its size or add central-directory aliases of an earlier entry.
void fuzz_zip_layout(Bytes data) {
  static const char* names[] = {"archive/data.pkl", "archive/data/0",  "archive/data/1",
                                "b/data.pkl",       "archive/version", "archive/data/0"};
  std::vector<clip::test::ZipPart> parts;
  std::vector<std::pair<std::string, std::size_t>> aliases;
  std::size_t at = 0;
  while (at + 4 <= data.size() && parts.size() < 16) {
    const std::uint8_t name = data[at], flags = data[at + 1];
    const std::size_t len = std::min<std::size_t>(data[at + 2] | (data[at + 3] << 8), data.size() - at - 4);
    clip::test::ZipPart part{names[name % 6], std::string(data.begin() + at + 4, data.begin() + at + 4 + len),
                             (flags & 1) != 0};
    if (flags & 2) part.declared_size = part.data.size() + (flags >> 4);           // a lie, small or large
    if (flags & 4) part.data.resize(std::size_t{1} << (10 + (flags >> 5)), '\0');  // up to 128 KiB of zeros
    parts.push_back(std::move(part));
    if ((flags & 8) && parts.size() > 1) aliases.emplace_back(names[(name + 1) % 6], (name >> 3) % parts.size());
    at += 4 + len;
  }
  load_torch_zip(clip::test::make_zip(parts, aliases));
}

void run(Bytes data) {
  const std::string target = CLIP_FUZZ_TARGET;
  if (target == "tokenizer") {
    const std::string text(reinterpret_cast<const char*>(data.data()), data.size());
    const auto& tok = clip::SimpleTokenizer::official();
    tok.decode(tok.encode(text));
    clip::tokenize(text, 77, true);
  } else if (target == "serve_request") {
    // The JSON bodies of clip serve, as its handlers read them, then tokenized as they are.
    const std::string body(reinterpret_cast<const char*>(data.data()), data.size());
    try {
      const cli::TextRequest r = cli::parse_text_request(body);
      clip::tokenize(r.texts, 77, r.truncate);
    } catch (const cli::HttpError&) {
    }
    try {
      cli::parse_search_request(body, 5);
    } catch (const cli::HttpError&) {
    }
  } else if (target == "pickle") {
    clip::io::unpickle(data, "fuzz.pkl");
  } else if (target == "torch_pickle") {
    fuzz_torch_pickle(data);
  } else if (target == "zip_layout") {
    fuzz_zip_layout(data);
  } else if (target == "zip") {
    const clip::io::ZipReader zip(clip::io::MappedFile::open(as_file(data, ".zip")));
    for (const auto& e : zip.entries())
      if (e.size < (1 << 24)) zip.read(e);
  } else if (target == "torch_checkpoint" || target == "safetensors") {
    const clip::Checkpoint c = clip::Checkpoint::load(as_file(data, target == "safetensors" ? ".safetensors" : ".pt"));
    c.config();
  } else {
    const clip::ImageOptions options = small_images();
    const clip::image::DecodeContext ctx{"fuzz", options};
    clip::Image image;
    if (target == "jpeg")
      image = clip::image::decode_jpeg(data, ctx);
    else if (target == "png")
      image = clip::image::decode_png(data, ctx);
    else if (target == "gif")
      image = clip::image::decode_gif(data, ctx);
    else if (target == "webp")
      image = clip::image::decode_webp(data, ctx);
    else if (target == "bmp")
      image = clip::image::decode_bmp(data, ctx);
    else if (target == "tiff")
      image = clip::image::decode_tiff(data, ctx);
    else if (target == "ppm")
      image = clip::image::decode_ppm(data, ctx);
    else if (target == "tga")
      image = clip::image::decode_tga(data, ctx);
    else if (target == "ico")
      image = clip::image::decode_ico(data, ctx);
    else if (target == "jpeg2000")
      image = clip::image::decode_jpeg2000(data, ctx);
    else if (target == "dds")
      image = clip::image::decode_dds(data, ctx);
    else if (target == "psd")
      image = clip::image::decode_psd(data, ctx);
    else if (target == "heif")
      image = clip::image::decode_heif(data, ctx);
    else
      image = clip::Image::decode(data, "fuzz", options);  // "image": format detection
    const clip::Tensor whole = clip::Preprocess(16)(image);
    if (target == "jpeg" && data.size() >= 3 && data[2] == 0xFF) {  // what Image::decode takes for a JPEG
      // Preprocess's JPEG path decodes only what the crop reads: it must give the same
      // bits, and fail only where the whole path fails.
      clip::Tensor part;
      try {
        part = clip::Preprocess(16)(data, "fuzz", options);
      } catch (const clip::Error&) {
        std::abort();
      }
      if (part.nbytes() != whole.nbytes() || std::memcmp(part.data<float>(), whole.data<float>(), whole.nbytes()) != 0)
        std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    run(Bytes(data, size));
  } catch (const clip::Error&) {
  }
  return 0;
}
