// CLIP's byte-level BPE vocabulary: 256 byte symbols, the same with "</w>", one token per
// merge, then <|startoftext|> and <|endoftext|>, exactly as SimpleTokenizer builds it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace clip::text {

class BpeVocabulary {
 public:
  // `merges_file` is the whole merges file text (header line first).
  explicit BpeVocabulary(std::string_view merges_file, std::string_view source_name);

  std::int32_t start_of_text() const { return start_of_text_; }
  std::int32_t end_of_text() const { return end_of_text_; }
  std::size_t size() const { return token_bytes_.size(); }

  // Appends the ids of each pre-tokenized piece (UTF-8), in order, stopping once `out`
  // holds max_tokens ids. Thread-safe; results for short pieces are cached. A piece longer
  // than `max_word_bytes` is a clip::Error.
  void encode_pieces(const std::vector<std::string_view>& pieces, std::vector<std::int32_t>& out,
                     std::size_t max_tokens, std::size_t max_word_bytes) const;

  // The bytes of token `id` ("</w>" kept), or nullptr when the reference has no such id.
  const std::string* token_bytes(std::int32_t id) const;

 private:
  // Appends the BPE ids of `piece` to `out`. Called under cache_mutex_ (it uses bpe_work_).
  void bpe(std::string_view piece, std::vector<std::int32_t>& out) const;

  struct Merge {
    std::int32_t rank = -1;  // -1: no such merge
    std::int32_t merged = -1;
  };
  // (left id, right id) -> merge, open addressing with linear probing: the look-up of every
  // BPE step. Measured on bench_multilingual.jsonl: std::unordered_map's find was 20% of all
  // tokenizing time. An entry is 8 bytes, key and merge together (ids, ranks < 2^16: the
  // vocabulary has 49,408 ids), so the table takes 1 MB and a look-up one cache line: cold
  // tokenizing 138k -> 146k strings/s against 8-byte keys and 8-byte merges in two arrays
  // (medians of 6 alternating runs, one core).
  class MergeTable {
   public:
    void reserve(std::size_t n);
    void insert(std::uint32_t key, Merge merge);
    Merge find(std::uint32_t key) const {
      for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
        const Entry e = entries_[i];
        if (e.key == key) return {e.rank, e.merged};
        if (e.key == kEmpty) return {};
      }
    }

   private:
    static constexpr std::uint32_t kEmpty = ~std::uint32_t{0};  // no pair of ids below 2^16
    struct Entry {
      std::uint32_t key = kEmpty;
      std::uint16_t rank = 0, merged = 0;
    };
    std::size_t slot(std::uint32_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
    std::vector<Entry> entries_;
    std::size_t mask_ = 0;
    int shift_ = 64;
  };

  std::int32_t byte_id_[256];             // id of the symbol for byte b
  std::int32_t byte_end_id_[256];         // id of the symbol for byte b followed by </w>
  std::vector<std::string> token_bytes_;  // id -> raw bytes, "</w>" included
  std::vector<bool> decodable_;           // the reference's decoder holds only the last id of a string
  MergeTable merges_;
  std::int32_t start_of_text_ = 0, end_of_text_ = 0;

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // One generation of the word cache: piece -> ids. Each piece's record (its size, its ids'
  // count, its bytes, then its ids) lies in one array, found through slots of 8 bytes by
  // open addressing on the piece's hash (linear probing, at most half full; grown as it
  // fills). A warm look-up meets two cache lines, a slot and a record, where it met three
  // when pieces and ids were kept in arrays of their own. On bench_multilingual.jsonl (130k
  // pieces, every warm look-up a hit) find was 26% of warm tokenizing with
  // std::unordered_map<std::string, std::vector>, 19% (with its memcmp) with separate
  // arrays, 17% now (perf); warm +4% and cold +5% (medians of 8 alternating runs).
  class WordCache {
   public:
    std::size_t size() const { return size_; }
    // Appends the ids of `piece` (hashed by piece_hash) to `out`; false when absent.
    bool find(std::string_view piece, std::uint64_t hash, std::vector<std::int32_t>& out) const;
    void insert(std::string_view piece, std::uint64_t hash, const std::int32_t* ids, std::size_t count);
    void clear();  // keeps the memory

   private:
    struct Slot {
      std::uint32_t tag = 0;     // the hash's high half; 0: empty (piece_hash sets the top bit)
      std::uint32_t record = 0;  // index into records_
    };
    void grow();
    std::vector<Slot> slots_;
    // Per piece: its size and its ids' count (16 bits each), its bytes (padded to whole
    // elements), its ids.
    std::vector<std::int32_t> records_;
    std::size_t size_ = 0;
  };
  static std::uint64_t piece_hash(std::string_view piece);
  mutable std::mutex cache_mutex_;
  // Into the young generation, which becomes the old one when full (see bpe.cpp).
  void remember(std::string_view piece, std::uint64_t hash, const std::int32_t* ids, std::size_t count) const;
  mutable WordCache young_, old_;

  // bpe()'s working arrays, kept from word to word (guarded by cache_mutex_), where each
  // word allocated its own: cold tokenizing +6-12% (medians of 5 alternating runs, one core).
  struct BpeWork {
    struct Candidate {
      std::int32_t rank, left, left_id, right_id, merged;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::vector<std::int32_t> id, next, prev;
    std::vector<Candidate> heap;
  };
  mutable BpeWork bpe_work_;
};

}  // namespace clip::text
