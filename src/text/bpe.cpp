#include "text/bpe.h"

#include <algorithm>
#include <limits>

#include "clip/error.h"
#include "text/utf8.h"

namespace clip::text {
namespace {

constexpr std::size_t kNumMerges = 49152 - 256 - 2;  // lines the reference reads
constexpr std::size_t kMaxCacheEntries = 1 << 16;   // bounds memory on untrusted input

// GPT-2's bytes_to_unicode(): the printable bytes keep their code point, the others are
// moved to 256 + n. Returns the bytes in vocabulary order and their characters.
void bytes_to_unicode(std::vector<unsigned char>& order, char32_t (&chars)[256]) {
  std::vector<bool> printable(256, false);
  for (int b = '!'; b <= '~'; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  for (int b = 0; b < 256; ++b)
    if (printable[b]) {
      order.push_back(static_cast<unsigned char>(b));
      chars[b] = static_cast<char32_t>(b);
    }
  char32_t next = 256;
  for (int b = 0; b < 256; ++b)
    if (!printable[b]) {
      order.push_back(static_cast<unsigned char>(b));
      chars[b] = next++;
    }
}

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

}  // namespace

BpeVocabulary::BpeVocabulary(std::string_view merges_file, std::string_view source_name) {
  std::vector<unsigned char> order;
  char32_t chars[256];
  bytes_to_unicode(order, chars);

  // Vocabulary strings live in the bytes_to_unicode alphabet (UTF-8 here); the reference's
  // encoder is a dict from those strings, so later duplicates win.
  std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>> encoder;
  std::vector<std::string> vocab;
  std::unordered_map<char32_t, unsigned char> char_to_byte;
  for (unsigned char b : order) {
    std::string s;
    append_utf8(s, chars[b]);
    vocab.push_back(s);
    char_to_byte[chars[b]] = b;
  }
  for (std::size_t i = 0; i < 256; ++i) vocab.push_back(vocab[i] + "</w>");

  // Merge lines: the header line is skipped, then up to kNumMerges "left right" lines.
  std::vector<std::pair<std::string, std::string>> merge_pairs;
  std::size_t pos = merges_file.find('\n');
  pos = pos == std::string_view::npos ? merges_file.size() : pos + 1;
  std::size_t line_no = 1;
  while (pos < merges_file.size() && merge_pairs.size() < kNumMerges) {
    std::size_t end = merges_file.find('\n', pos);
    if (end == std::string_view::npos) end = merges_file.size();
    const std::string_view line = merges_file.substr(pos, end - pos);
    ++line_no;
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw Error(std::string(source_name) + ": line " + std::to_string(line_no) +
                  " is not a BPE merge (\"left right\")");
    merge_pairs.emplace_back(line.substr(0, space), line.substr(space + 1));
    vocab.push_back(merge_pairs.back().first + merge_pairs.back().second);
    pos = end + 1;
  }
  vocab.push_back("<|startoftext|>");
  vocab.push_back("<|endoftext|>");

  for (std::size_t i = 0; i < vocab.size(); ++i) encoder[vocab[i]] = static_cast<std::int32_t>(i);
  start_of_text_ = encoder.at("<|startoftext|>");
  end_of_text_ = encoder.at("<|endoftext|>");
  for (int b = 0; b < 256; ++b) {
    std::string s;
    append_utf8(s, chars[b]);
    byte_id_[b] = encoder.at(s);
    byte_end_id_[b] = encoder.at(s + "</w>");
  }

  for (std::size_t rank = 0; rank < merge_pairs.size(); ++rank) {
    const auto& [left, right] = merge_pairs[rank];
    const auto l = encoder.find(left), r = encoder.find(right);
    if (l == encoder.end() || r == encoder.end())
      throw Error(std::string(source_name) + ": merge " + std::to_string(rank + 1) + " (\"" + left +
                  " " + right + "\") uses a symbol that no earlier line defines");
    merges_[pair_key(l->second, r->second)] = {static_cast<std::int32_t>(rank),
                                               encoder.at(left + right)};
  }

  // Raw bytes of every token, for decode().
  token_bytes_.resize(vocab.size());
  decodable_.assign(vocab.size(), false);
  for (std::size_t id = 0; id < vocab.size(); ++id) {
    const std::string& s = vocab[id];
    decodable_[id] = encoder.at(s) == static_cast<std::int32_t>(id);
    std::string bytes;
    for (char32_t c : utf8_to_u32(s, source_name)) {
      const auto it = char_to_byte.find(c);
      if (it == char_to_byte.end())
        throw Error(std::string(source_name) + ": token \"" + s + "\" has a character outside the byte alphabet");
      bytes.push_back(static_cast<char>(it->second));
    }
    token_bytes_[id] = std::move(bytes);
  }
}

const std::string* BpeVocabulary::token_bytes(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= token_bytes_.size() || !decodable_[id]) return nullptr;
  return &token_bytes_[static_cast<std::size_t>(id)];
}

std::vector<std::int32_t> BpeVocabulary::bpe(std::string_view piece) const {
  std::vector<std::int32_t> word;
  word.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size(); ++i) {
    const auto b = static_cast<unsigned char>(piece[i]);
    word.push_back(i + 1 == piece.size() ? byte_end_id_[b] : byte_id_[b]);
  }
  // Repeatedly merge every occurrence of the best-ranked adjacent pair, left to right.
  while (word.size() > 1) {
    std::int32_t best_rank = std::numeric_limits<std::int32_t>::max();
    Merge best{};
    std::int32_t left = 0, right = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = merges_.find(pair_key(word[i], word[i + 1]));
      if (it != merges_.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        best = it->second;
        left = word[i];
        right = word[i + 1];
      }
    }
    if (best_rank == std::numeric_limits<std::int32_t>::max()) break;
    std::size_t out = 0;
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
        word[out++] = best.merged;
        i += 2;
      } else {
        word[out++] = word[i++];
      }
    }
    word.resize(out);
  }
  return word;
}

void BpeVocabulary::encode_piece(std::string_view piece, std::vector<std::int32_t>& out) const {
  if (piece == "<|startoftext|>") {
    out.push_back(start_of_text_);
    return;
  }
  if (piece == "<|endoftext|>") {
    out.push_back(end_of_text_);
    return;
  }
  {
    std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::int32_t> ids = bpe(piece);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::string(piece), std::move(ids));
}

}  // namespace clip::text
