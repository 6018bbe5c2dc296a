#include "clip/tokenizer.h"

#include <zlib.h>

#include <algorithm>
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

  // Appends the ids of `text` to `ids` (see SimpleTokenizer::encode).
  void encode(std::string_view text, std::size_t max_tokens, std::vector<std::int32_t>& ids) const;

  text::BpeVocabulary vocab;
};

namespace {

// The buffers that encoding one text fills, one set per thread and reused by every text it
// tokenizes: on the 10,000 captions, malloc and free were 21% of tokenizing while every
// text made its own (perf). A set grown past kKeptScratchBytes by a long text is released
// when that text is done.
struct Scratch {
  std::string bytes;  // the lowercased text, or the pieces re-encoded in UTF-8
  std::vector<std::string_view> pieces;
  std::vector<std::u32string_view> wide_pieces;
  std::vector<std::size_t> ends;

  std::size_t capacity_bytes() const {
    return bytes.capacity() + pieces.capacity() * sizeof(std::string_view) +
           wide_pieces.capacity() * sizeof(std::u32string_view) + ends.capacity() * sizeof(std::size_t);
  }
};
constexpr std::size_t kKeptScratchBytes = std::size_t{1} << 20;
thread_local Scratch scratch;

struct ReleaseLargeScratch {
  ~ReleaseLargeScratch() {
    if (scratch.capacity_bytes() > kKeptScratchBytes) scratch = Scratch{};
  }
};

}  // namespace

void SimpleTokenizer::Impl::encode(std::string_view text, std::size_t max_tokens,
                                   std::vector<std::int32_t>& ids) const {
  if (text.size() > kMaxTextBytes)
    throw Error("cannot tokenize a text of " + std::to_string(text.size()) + " bytes: the limit is " +
                std::to_string(kMaxTextBytes >> 20) + " MiB");
  const ReleaseLargeScratch release;
  if (text::is_plain_ascii(text)) {
    text::lower_plain_ascii(text, scratch.bytes);
    text::pretokenize_ascii(scratch.bytes, scratch.pieces);
    vocab.encode_pieces(scratch.pieces, ids, max_tokens, kMaxWordBytes);
    return;
  }
  const std::u32string cleaned = text::clean_text(text::utf8_to_u32(text, "input text"));
  text::pretokenize(cleaned, scratch.wide_pieces);
  // The BPE works on UTF-8 bytes: re-encode the pieces into one buffer.
  scratch.bytes.clear();
  scratch.ends.clear();
  for (std::u32string_view piece : scratch.wide_pieces) {
    for (char32_t c : piece) text::append_utf8(scratch.bytes, c);
    scratch.ends.push_back(scratch.bytes.size());
  }
  scratch.pieces.clear();
  std::size_t begin = 0;
  for (std::size_t end : scratch.ends) {
    scratch.pieces.push_back(std::string_view(scratch.bytes).substr(begin, end - begin));
    begin = end;
  }
  vocab.encode_pieces(scratch.pieces, ids, max_tokens, kMaxWordBytes);
}

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
  std::vector<std::int32_t> ids;
  impl_->encode(text, max_tokens, ids);
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

Tensor SimpleTokenizer::tokenize(std::span<const std::string> texts, int context_length, bool truncate) const {
  if (context_length < 0 || context_length > kMaxContextLength)
    throw Error("tokenize: context_length must be 0 to " + std::to_string(kMaxContextLength) + " (got " +
                std::to_string(context_length) + ")");
  if (truncate && context_length == 0) throw Error("tokenize: context_length must be at least 1 to truncate");
  const auto n = static_cast<std::int64_t>(texts.size());
  Tensor result({n, context_length}, DType::Int32);
  const auto width = static_cast<std::size_t>(context_length);
  // A row's ids, one buffer per thread like the scratch above (a tokenize() call per caption
  // spent 15% longer while it allocated its own). It holds at most a row and the last
  // word's ids (kMaxWordBytes), so what a thread keeps is bounded (~4 MiB).
  thread_local std::vector<std::int32_t> ids;
  if (ids.capacity() * sizeof(std::int32_t) > kKeptScratchBytes) ids = {};
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string& text = texts[static_cast<std::size_t>(i)];
    // Enough ids to fill the row and tell whether the text overflows it; no more.
    ids.clear();
    impl_->encode(text, width - 1, ids);
    // The row: <|startoftext|> ids <|endoftext|>, cut to its width when it must be.
    if (ids.size() + 2 > width && !truncate)
      throw Error("Input " + text + " is too long for context length " + std::to_string(context_length));
    std::int32_t* row = result.data<std::int32_t>() + i * context_length;
    row[0] = start_of_text();
    const std::size_t kept = std::min(ids.size(), width - 1);
    std::copy_n(ids.begin(), kept, row + 1);
    row[std::min(kept + 1, width - 1)] = end_of_text();
  }
  return result;
}

Tensor tokenize(const SimpleTokenizer& tokenizer, const std::vector<std::string>& texts, int context_length,
                bool truncate) {
  return tokenizer.tokenize(texts, context_length, truncate);
}

Tensor tokenize(const std::vector<std::string>& texts, int context_length, bool truncate) {
  return SimpleTokenizer::official().tokenize(texts, context_length, truncate);
}

Tensor tokenize(std::initializer_list<std::string> texts, int context_length, bool truncate) {
  return SimpleTokenizer::official().tokenize(std::span(texts.begin(), texts.size()), context_length, truncate);
}

Tensor tokenize(const std::string& text, int context_length, bool truncate) {
  return SimpleTokenizer::official().tokenize(std::span(&text, 1), context_length, truncate);
}

}  // namespace clip
