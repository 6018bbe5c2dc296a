// libFuzzer target: arbitrary bytes through encode, tokenize and decode.
#include <cstddef>
#include <cstdint>
#include <string>

#include "clip/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const clip::SimpleTokenizer& tok = clip::SimpleTokenizer::official();
  try {
    const std::vector<std::int32_t> ids = tok.encode(text);
    tok.decode(ids);
    clip::tokenize(text, 77, true);
  } catch (const clip::Error&) {
  }
  return 0;
}
