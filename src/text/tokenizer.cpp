#include "clip/tokenizer.h"

#include <zlib.h>

#include <cstring>

#include "clip/error.h"
#include "core/file.h"
#include "text/bpe.h"
#include "text/clean.h"
#include "text/pretokenize.h"
#include "text/utf8.h"

namespace clip {
namespace text {
// Generated at build time from the official merges (tools/gen_bpe_merges.py).
extern const unsigned char kOfficialBpeMerges[];
extern const std::size_t kOfficialBpeMergesSize;
}  // namespace text

namespace {

std::string read_merges_file(const std::filesystem::path& path) {
  // gzdopen reads plain files as they are and .gz files decompressed; the file is opened
  // as a regular file first (a FIFO would block).
  std::uint64_t size = 0;
  core::FileHandle fd = core::open_regular_file(path, "BPE merges file", size);
  gzFile f = gzdopen(fd.get(), "rb");
  if (f) fd.release();
  if (!f) throw Error("cannot open BPE merges file " + path.string() + ": " + std::strerror(errno));
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > (std::size_t{64} << 20)) {
      gzclose(f);
      throw Error("BPE merges file " + path.string() + " is larger than 64 MiB");
    }
  }
  int err = Z_OK;
  const char* message = n < 0 ? gzerror(f, &err) : nullptr;
  const std::string error = message ? message : "";
  gzclose(f);
  if (n < 0) throw Error("cannot read BPE merges file " + path.string() + ": " + error);
  return data;
}

}  // namespace

struct SimpleTokenizer::Impl {
  explicit Impl(std::string_view merges, std::string_view name) : vocab(merges, name) {}
  text::BpeVocabulary vocab;
};

SimpleTokenizer::SimpleTokenizer() : impl_(official().impl_) {}

SimpleTokenizer::SimpleTokenizer(const std::filesystem::path& bpe_path) {
  const std::string data = read_merges_file(bpe_path);
  impl_ = std::make_shared<Impl>(data, bpe_path.string());
}

const SimpleTokenizer& SimpleTokenizer::official() {
  static const SimpleTokenizer instance = [] {
    SimpleTokenizer t(nullptr);
    // The embedded data holds the merge lines only; the reference skips a header line.
    std::string file = "#version: 0.2\n";
    file.append(reinterpret_cast<const char*>(text::kOfficialBpeMerges), text::kOfficialBpeMergesSize);
    t.impl_ = std::make_shared<Impl>(file, "built-in BPE merges");
    return t;
  }();
  return instance;
}

std::vector<std::int32_t> SimpleTokenizer::encode(std::string_view text, std::size_t max_tokens) const {
  if (text.size() > kMaxTextBytes)
    throw Error("cannot tokenize a text of " + std::to_string(text.size()) + " bytes: the limit is " +
                std::to_string(kMaxTextBytes >> 20) + " MiB");
  std::vector<std::int32_t> ids;
  if (text::is_plain_ascii(text)) {
    const std::string cleaned = text::clean_plain_ascii(text);
    impl_->vocab.encode_pieces(text::pretokenize_ascii(cleaned), ids, max_tokens, kMaxWordBytes);
    return ids;
  }
  const std::u32string cleaned = text::clean_text(text::utf8_to_u32(text, "input text"));
  const std::vector<std::u32string_view> pieces = text::pretokenize(cleaned);
  // The BPE works on UTF-8 bytes: re-encode the pieces into one buffer.
  std::string buffer;
  std::vector<std::size_t> ends;
  for (std::u32string_view piece : pieces) {
    for (char32_t c : piece) text::append_utf8(buffer, c);
    ends.push_back(buffer.size());
  }
  std::vector<std::string_view> views;
  std::size_t begin = 0;
  for (std::size_t end : ends) {
    views.push_back(std::string_view(buffer).substr(begin, end - begin));
    begin = end;
  }
  impl_->vocab.encode_pieces(views, ids, max_tokens, kMaxWordBytes);
  return ids;
}

std::string SimpleTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string bytes;
  for (std::int32_t id : ids) {
    const std::string* token = impl_->vocab.token_bytes(id);
    if (!token) throw Error("decode: token id " + std::to_string(id) + " is not in the vocabulary");
    bytes += *token;
  }
  std::string out = text::utf8_replace_invalid(bytes);
  // "</w>" marks the end of a word; the reference turns it into a space.
  std::string result;
  result.reserve(out.size());
  for (std::size_t i = 0; i < out.size();) {
    if (out.compare(i, 4, "</w>") == 0) {
      result.push_back(' ');
      i += 4;
    } else {
      result.push_back(out[i++]);
    }
  }
  return result;
}

std::size_t SimpleTokenizer::vocab_size() const { return impl_->vocab.size(); }
std::int32_t SimpleTokenizer::start_of_text() const { return impl_->vocab.start_of_text(); }
std::int32_t SimpleTokenizer::end_of_text() const { return impl_->vocab.end_of_text(); }

Tensor tokenize(const SimpleTokenizer& tokenizer, const std::vector<std::string>& texts, int context_length,
                bool truncate) {
  if (context_length < 0 || context_length > kMaxContextLength)
    throw Error("tokenize: context_length must be 0 to " + std::to_string(kMaxContextLength) + " (got " +
                std::to_string(context_length) + ")");
  if (truncate && context_length == 0) throw Error("tokenize: context_length must be at least 1 to truncate");
  const auto n = static_cast<std::int64_t>(texts.size());
  Tensor result({n, context_length}, DType::Int32);
  std::int32_t* rows = result.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::int32_t> tokens{tokenizer.start_of_text()};
    // Enough ids to fill the row and tell whether the text overflows it; no more.
    const std::vector<std::int32_t> ids =
        tokenizer.encode(texts[static_cast<std::size_t>(i)], static_cast<std::size_t>(context_length) - 1);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    tokens.push_back(tokenizer.end_of_text());
    if (static_cast<std::int64_t>(tokens.size()) > context_length) {
      if (!truncate)
        throw Error("Input " + texts[static_cast<std::size_t>(i)] + " is too long for context length " +
                    std::to_string(context_length));
      tokens.resize(static_cast<std::size_t>(context_length));
      tokens.back() = tokenizer.end_of_text();
    }
    std::copy(tokens.begin(), tokens.end(), rows + i * context_length);
  }
  return result;
}

Tensor tokenize(const std::vector<std::string>& texts, int context_length, bool truncate) {
  return tokenize(SimpleTokenizer::official(), texts, context_length, truncate);
}

Tensor tokenize(std::initializer_list<std::string> texts, int context_length, bool truncate) {
  return tokenize(SimpleTokenizer::official(), std::vector<std::string>(texts), context_length, truncate);
}

Tensor tokenize(const std::string& text, int context_length, bool truncate) {
  return tokenize(SimpleTokenizer::official(), std::vector<std::string>{text}, context_length, truncate);
}

}  // namespace clip
