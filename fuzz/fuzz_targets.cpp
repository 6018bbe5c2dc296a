// libFuzzer targets, one per parser entry point; CLIP_FUZZ_TARGET selects which (see
// fuzz/CMakeLists.txt). Each must either succeed or throw clip::Error: a crash, a hang,
// a sanitizer report or any other exception is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "clip/checkpoint.h"
#include "clip/error.h"
#include "clip/image.h"
#include "clip/tokenizer.h"
#include "image/decoders.h"
#include "io/pickle.h"
#include "io/zip.h"

namespace {

using Bytes = std::span<const std::uint8_t>;

// Readers that take a path get the input through a file in memory-backed /dev/shm.
std::filesystem::path as_file(Bytes data, const char* suffix) {
  static const std::filesystem::path path =
      std::filesystem::path(std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp") /
      ("clip_fuzz_" + std::to_string(::getpid()) + suffix);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data.data()),
                                                                static_cast<std::streamsize>(data.size()));
  return path;
}

clip::ImageOptions small_images() {
  clip::ImageOptions o;
  o.max_pixels = 1 << 22;  // keeps memory within libFuzzer's limit
  return o;
}

void run(Bytes data) {
  const std::string target = CLIP_FUZZ_TARGET;
  if (target == "tokenizer") {
    const std::string text(reinterpret_cast<const char*>(data.data()), data.size());
    const auto& tok = clip::SimpleTokenizer::official();
    tok.decode(tok.encode(text));
    clip::tokenize(text, 77, true);
  } else if (target == "pickle") {
    clip::io::unpickle(data, "fuzz.pkl");
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
    if (target == "jpeg") image = clip::image::decode_jpeg(data, ctx);
    else if (target == "png") image = clip::image::decode_png(data, ctx);
    else if (target == "gif") image = clip::image::decode_gif(data, ctx);
    else if (target == "webp") image = clip::image::decode_webp(data, ctx);
    else if (target == "bmp") image = clip::image::decode_bmp(data, ctx);
    else if (target == "tiff") image = clip::image::decode_tiff(data, ctx);
    else image = clip::Image::decode(data, "fuzz", options);  // "image": format detection
    clip::Preprocess(16)(image);
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
