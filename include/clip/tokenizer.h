// The CLIP text tokenizer, identical to the reference `clip.simple_tokenizer` and
// `clip.tokenize`: ftfy-style cleaning, HTML unescaping, whitespace collapsing, Unicode
// lowercasing, the reference's pre-tokenizer pattern and byte-level BPE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clip/export.h"
#include "clip/tensor.h"

namespace clip {

class CLIP_API SimpleTokenizer {
 public:
  static constexpr std::int32_t kStartOfText = 49406;  // <|startoftext|>
  static constexpr std::int32_t kEndOfText = 49407;    // <|endoftext|>

  // Uses the official CLIP merges built into the library.
  SimpleTokenizer();
  // Uses a merges file in the format of `bpe_simple_vocab_16e6.txt` (plain or .gz); like
  // the reference, its first line is a header and the next 48,894 lines are merges.
  explicit SimpleTokenizer(const std::filesystem::path& bpe_path);

  // BPE ids of `text` (UTF-8), without start/end tokens. Invalid UTF-8 is a clip::Error.
  // With `max_tokens`, words after the first max_tokens ids are not encoded (the result
  // may hold a few more: the last word's ids are kept whole). Bounds, each a clip::Error:
  // a text of at most kMaxTextBytes, a word (one piece of the reference's pattern) of at
  // most kMaxWordBytes.
  std::vector<std::int32_t> encode(std::string_view text, std::size_t max_tokens = SIZE_MAX) const;
  static constexpr std::size_t kMaxTextBytes = std::size_t{16} << 20;
  static constexpr std::size_t kMaxWordBytes = std::size_t{1} << 20;
  // Text of `ids` as the reference decodes it ("</w>" becomes a space, invalid UTF-8
  // becomes U+FFFD). An id outside the vocabulary is a clip::Error.
  std::string decode(std::span<const std::int32_t> ids) const;

  // clip.tokenize(texts, context_length, truncate) with this tokenizer's merges: see the
  // free function tokenize() below.
  Tensor tokenize(std::span<const std::string> texts, int context_length = 77, bool truncate = false) const;

  std::size_t vocab_size() const;
  std::int32_t start_of_text() const;
  std::int32_t end_of_text() const;

  // The tokenizer with the built-in merges, created once and shared. Thread-safe.
  static const SimpleTokenizer& official();

 private:
  explicit SimpleTokenizer(std::nullptr_t) {}
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The longest context tokenize() builds (CLIP's models use 77).
inline constexpr int kMaxContextLength = 1 << 16;

// clip.tokenize: an int32 tensor [texts.size(), context_length] holding
// <|startoftext|> ids <|endoftext|> then zeros. A text that does not fit raises
// clip::Error("Input {text} is too long for context length {n}") unless `truncate`, which
// cuts the row and makes its last id <|endoftext|>, as the reference does. Only the words
// that can reach the row are encoded. context_length is 0 to kMaxContextLength.
CLIP_API Tensor tokenize(const std::vector<std::string>& texts, int context_length = 77, bool truncate = false);
CLIP_API Tensor tokenize(const std::string& text, int context_length = 77, bool truncate = false);
// A braced list of texts: `tokenize({"a red star", "a blue circle"})`. Without this
// overload two string literals also match std::string's iterator-pair constructor and
// the call is ambiguous.
CLIP_API Tensor tokenize(std::initializer_list<std::string> texts, int context_length = 77, bool truncate = false);
CLIP_API Tensor tokenize(const SimpleTokenizer& tokenizer, const std::vector<std::string>& texts,
                         int context_length = 77, bool truncate = false);

}  // namespace clip
