#include "text/bpe.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "clip/error.h"
#include "text/utf8.h"

namespace clip::text {
namespace {

constexpr std::size_t kNumMerges = 49152 - 256 - 2;  // lines the reference reads
static_assert(2 * 256 + kNumMerges + 2 <= 1 << 16, "token ids and ranks must fit 16 bits (MergeTable)");
// The word cache keeps two generations of up to this many pieces: a full young generation
// becomes the old one (the previous old one is dropped), and a piece found in the old one
// is copied back to the young. Frequent pieces so survive every turn, where emptying one table
// of 65,536 when full (as before) made bench_multilingual.jsonl, 130,356 distinct pieces,
// miss nearly always. Measured there on one core: warm 95k -> 185k strings/s, the same as an
// unbounded cache (the reference's). Its 130k pieces take ~7 MB (peak RSS of `clip tokenize
// --jsonl` over the file, less that over one line; the same before and after the flat
// tables); the bound, 262,144 pieces of at most kMaxCachedPiece bytes and as many ids, keeps
// any text under ~350 MB.
constexpr std::size_t kCacheGeneration = 1 << 17;
constexpr std::size_t kMaxCachedPiece = 256;  // long pieces are rare; caching them could take GBs

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

// The vocabulary's ids are below 2^16 (the static_assert above), so a pair fits 32 bits.
std::uint32_t pair_key(std::int32_t a, std::int32_t b) {
  return static_cast<std::uint32_t>(a) << 16 | static_cast<std::uint32_t>(b);
}

}  // namespace

void BpeVocabulary::MergeTable::reserve(std::size_t n) {
  int bits = 1;
  while ((std::size_t{1} << bits) < 2 * n) ++bits;  // at most half full
  entries_.assign(std::size_t{1} << bits, Entry{});
  mask_ = entries_.size() - 1;
  shift_ = 64 - bits;
}

void BpeVocabulary::MergeTable::insert(std::uint32_t key, Merge merge) {
  std::size_t i = slot(key);
  while (entries_[i].key != kEmpty && entries_[i].key != key) i = (i + 1) & mask_;
  entries_[i] = {key, static_cast<std::uint16_t>(merge.rank), static_cast<std::uint16_t>(merge.merged)};
}

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

  merges_.reserve(merge_pairs.size());
  for (std::size_t rank = 0; rank < merge_pairs.size(); ++rank) {
    const auto& [left, right] = merge_pairs[rank];
    const auto l = encoder.find(left), r = encoder.find(right);
    if (l == encoder.end() || r == encoder.end())
      throw Error(std::string(source_name) + ": merge " + std::to_string(rank + 1) + " (\"" + left + " " + right +
                  "\") uses a symbol that no earlier line defines");
    merges_.insert(pair_key(l->second, r->second), {static_cast<std::int32_t>(rank), encoder.at(left + right)});
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

// The reference merges every occurrence of the best-ranked pair, left to right, then looks
// again. A merged symbol only takes part in merges of higher rank than the one that made
// it, so taking pairs from a heap by (rank, position) gives the same result in
// O(n log n) instead of O(n^2) per merge: a single long word cannot stall us.
void BpeVocabulary::bpe(std::string_view piece, std::vector<std::int32_t>& out) const {
  const auto n = static_cast<std::int32_t>(piece.size());
  BpeWork& w = bpe_work_;
  w.id.resize(piece.size());
  w.next.resize(piece.size());
  w.prev.resize(piece.size());
  w.heap.clear();
  for (std::int32_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(piece[static_cast<std::size_t>(i)]);
    w.id[i] = i + 1 == n ? byte_end_id_[b] : byte_id_[b];
    w.next[i] = i + 1 < n ? i + 1 : -1;
    w.prev[i] = i - 1;
  }
  using Candidate = BpeWork::Candidate;
  const auto consider = [&](std::int32_t left) {
    if (left < 0 || w.next[left] < 0) return;
    const std::int32_t left_id = w.id[left], right_id = w.id[w.next[left]];
    const Merge m = merges_.find(pair_key(left_id, right_id));
    if (m.rank < 0) return;
    w.heap.push_back({m.rank, left, left_id, right_id, m.merged});
    std::push_heap(w.heap.begin(), w.heap.end(), std::greater<>());
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!w.heap.empty()) {
    std::pop_heap(w.heap.begin(), w.heap.end(), std::greater<>());
    const Candidate c = w.heap.back();
    w.heap.pop_back();
    const std::int32_t right = w.next[c.left];
    if (w.id[c.left] != c.left_id || right < 0 || w.id[right] != c.right_id) continue;  // stale
    w.id[c.left] = c.merged;
    w.id[right] = -1;
    w.next[c.left] = w.next[right];
    if (w.next[right] >= 0) w.prev[w.next[right]] = c.left;
    consider(w.prev[c.left]);
    consider(c.left);
  }
  for (std::int32_t i = 0; i >= 0 && i < n; i = w.next[i]) out.push_back(w.id[i]);
  // A long word's arrays are not kept (a word may be up to 1 MiB).
  if (piece.size() > kMaxCachedPiece) w = BpeWork{};
}

void BpeVocabulary::encode_pieces(const std::vector<std::string_view>& pieces, std::vector<std::int32_t>& out,
                                  std::size_t max_tokens, std::size_t max_word_bytes) const {
  // One lock per text: a miss runs BPE under the lock, which is rare once the cache is warm.
  std::lock_guard lock(cache_mutex_);
  for (std::string_view piece : pieces) {
    if (out.size() >= max_tokens) return;
    if (piece.size() > max_word_bytes)
      throw Error("cannot tokenize a word of " + std::to_string(piece.size()) + " bytes: the limit is " +
                  std::to_string(max_word_bytes) + " bytes per word");
    if (piece == "<|startoftext|>") {
      out.push_back(start_of_text_);
    } else if (piece == "<|endoftext|>") {
      out.push_back(end_of_text_);
    } else {
      const std::uint64_t hash = piece_hash(piece);
      const std::size_t before = out.size();
      if (young_.find(piece, hash, out)) continue;
      if (old_.find(piece, hash, out)) {  // a piece still in use: copied back to the young generation
        remember(piece, hash, out.data() + before, out.size() - before);
        continue;
      }
      bpe(piece, out);
      if (piece.size() <= kMaxCachedPiece) remember(piece, hash, out.data() + before, out.size() - before);
    }
  }
}

void BpeVocabulary::remember(std::string_view piece, std::uint64_t hash, const std::int32_t* ids,
                             std::size_t count) const {
  if (young_.size() >= kCacheGeneration) {  // the young generation becomes the old one
    std::swap(young_, old_);
    young_.clear();
  }
  young_.insert(piece, hash, ids, count);
}

std::uint64_t BpeVocabulary::piece_hash(std::string_view piece) {
  return StringHash()(piece) | (std::uint64_t{1} << 63);
}

namespace {
std::size_t words_for(std::size_t bytes) { return (bytes + 3) / 4; }
}  // namespace

bool BpeVocabulary::WordCache::find(std::string_view piece, std::uint64_t hash, std::vector<std::int32_t>& out) const {
  if (slots_.empty()) return false;
  const auto tag = static_cast<std::uint32_t>(hash >> 32);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot slot = slots_[i];
    if (slot.tag == 0) return false;
    if (slot.tag != tag) continue;
    const std::int32_t* record = records_.data() + slot.record;
    const auto sizes = static_cast<std::uint32_t>(record[0]);
    const std::size_t size = sizes & 0xFFFF, count = sizes >> 16;
    if (size != piece.size() || std::memcmp(record + 1, piece.data(), size) != 0) continue;
    const std::int32_t* ids = record + 1 + words_for(size);
    out.insert(out.end(), ids, ids + count);
    return true;
  }
}

void BpeVocabulary::WordCache::insert(std::string_view piece, std::uint64_t hash, const std::int32_t* ids,
                                      std::size_t count) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hash & mask;
  while (slots_[i].tag != 0) i = (i + 1) & mask;
  slots_[i] = {static_cast<std::uint32_t>(hash >> 32), static_cast<std::uint32_t>(records_.size())};
  records_.push_back(static_cast<std::int32_t>(piece.size() | count << 16));
  const std::size_t bytes_at = records_.size();
  records_.resize(bytes_at + words_for(piece.size()));
  std::memcpy(records_.data() + bytes_at, piece.data(), piece.size());
  records_.insert(records_.end(), ids, ids + count);
  ++size_;
}

void BpeVocabulary::WordCache::grow() {
  const std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max<std::size_t>(1024, 2 * old.size()), Slot{});
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.tag == 0) continue;
    // The slot keeps only the hash's high half: the low half comes from the piece again.
    const std::int32_t* record = records_.data() + slot.record;
    const std::string_view piece(reinterpret_cast<const char*>(record + 1),
                                 static_cast<std::uint32_t>(record[0]) & 0xFFFF);
    std::size_t i = piece_hash(piece) & mask;
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void BpeVocabulary::WordCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  records_.clear();
  size_ = 0;
}

}  // namespace clip::text
