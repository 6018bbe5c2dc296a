// The badness heuristic and the re-decoding plan follow ftfy 6.3 (`ftfy.badness`,
// `ftfy.fix_encoding_and_explain`); the character categories are ftfy's.
#include "text/mojibake.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "clip/error.h"
#include "text/text_tables.h"
#include "text/utf8.h"

namespace clip::text {
namespace {

// --- Character categories of ftfy.badness.MOJIBAKE_CATEGORIES ("a-b" is a range). ---
constexpr std::string_view kCommon = "\u00a0\u00ad\u00b7\u00b4\u2013\u2014\u2015\u2026\u2019";
constexpr std::string_view kC1 = "\u0080-\u009f";
constexpr std::string_view kBad = "¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊\ufffdªº";
constexpr std::string_view kLaw = "¶§";
constexpr std::string_view kCurrency = "¢£¥₧€";
constexpr std::string_view kStartPunctuation = "¡«¿©΄΅‘‚“„•‹\uf8ff";
constexpr std::string_view kEndPunctuation = "®»˝”›™";
constexpr std::string_view kNumeric = "²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№";
constexpr std::string_view kKaomoji = "Ò-ÖÙ-Üò-öø-üŐŌŪŲ°";
constexpr std::string_view kUpperAccented = "À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ";
constexpr std::string_view kLowerAccented = "ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂ";
constexpr std::string_view kUpperCommon = "ÞΑ-ΩΆΈΉΊΌΎΏΪΫЁ-Я";
constexpr std::string_view kLowerCommon = "α-ωάέήίΰа-џ";
constexpr std::string_view kBox = "│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓";
// Python's str.isspace(), which is what `\s` means to ftfy's `re` patterns.
constexpr std::string_view kPySpace = "\t-\r\u001c- \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

void append_escaped(std::string& out, char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\x{%x}", static_cast<unsigned>(c));
  out += buf;
}

// "[...]" from category strings, escaping every character except the range dash.
std::string set(std::initializer_list<std::string_view> parts, bool negate = false) {
  std::string out = negate ? "[^" : "[";
  for (std::string_view part : parts) {
    const std::u32string chars = utf8_to_u32(part);
    for (std::size_t i = 0; i < chars.size(); ++i) {
      const bool range_dash = chars[i] == U'-' && i > 0 && i + 1 < chars.size();
      if (range_dash)
        out += '-';
      else
        append_escaped(out, chars[i]);
    }
  }
  return out + "]";
}

std::string set(std::u32string_view chars) {
  std::string out = "[";
  for (char32_t c : chars) append_escaped(out, c);
  return out + "]";
}

// One position of a badness alternative: its regex and, for a plain set, the code points it
// matches (what the pre-filter of BadnessFilter is built from).
struct Position {
  std::string regex;
  std::u32string members;  // empty: not a plain set (negated, \w, optional, an anchor)
};

Position any_of(std::initializer_list<std::string_view> parts) {
  Position p{set(parts), {}};
  for (std::string_view part : parts) {
    const std::u32string chars = utf8_to_u32(part);
    for (std::size_t i = 0; i < chars.size(); ++i) {
      if (chars[i] == U'-' && i > 0 && i + 1 < chars.size()) {
        for (char32_t c = chars[i - 1] + 1; c < chars[i + 1]; ++c) p.members.push_back(c);
      } else {
        p.members.push_back(chars[i]);
      }
    }
  }
  return p;
}
Position raw(std::string regex) { return {std::move(regex), {}}; }

// ftfy.badness.BADNESS_RE's alternatives, in its order. Each names where every match must
// have non-ASCII characters: `key` is a position, or with `pair` the first of two adjacent
// ones. The keys are chosen among the rarest characters (not the accented lowercase letters,
// Greek or Cyrillic of ordinary text), so most real text is found clean without the regex.
struct Alternative {
  std::vector<Position> positions;
  int key = 0;
  bool pair = false;
};

std::vector<Position> chars(std::string_view literal) {
  std::vector<Position> out;
  for (char32_t c : utf8_to_u32(literal)) {
    std::string regex;
    append_escaped(regex, c);
    out.push_back({regex, std::u32string(1, c)});
  }
  return out;
}

Alternative alt(std::vector<Position> positions, int key, bool pair) { return {std::move(positions), key, pair}; }
std::vector<Position> operator+(std::vector<Position> a, const Position& b) {
  a.push_back(b);
  return a;
}

const std::vector<Alternative>& badness_alternatives() {
  static const std::vector<Alternative> list = [] {
    const auto& B = kBad;
    const auto& LA = kLowerAccented;
    const auto& UA = kUpperAccented;
    const auto& BX = kBox;
    const auto& SP = kStartPunctuation;
    const auto& EP = kEndPunctuation;
    const auto& CU = kCurrency;
    const auto& NU = kNumeric;
    const auto& LW = kLaw;
    const Position arabic = any_of({kCommon, CU, B, NU, SP, "ŸŠ®°µ»"});
    const Position c1_and_more = any_of({kC1, B, SP, EP, CU, "°µ"});
    constexpr bool kPair = true, kSingle = false;
    return std::vector<Alternative>{
        alt({any_of({kC1})}, 0, kSingle),
        alt({any_of({B, LA, UA, BX, SP, EP, CU, NU, LW}), any_of({B})}, 0, kPair),
        alt({any_of({"a-zA-Z"}), any_of({kLowerCommon, kUpperCommon}), any_of({B})}, 1, kPair),
        alt({any_of({B}), any_of({LA, UA, BX, SP, EP, CU, NU, LW})}, 0, kPair),
        alt({any_of({LA, kLowerCommon, BX, EP, CU, NU}), any_of({UA})}, 0, kPair),
        alt({any_of({BX, EP, CU, NU}), any_of({LA})}, 0, kPair),
        alt({any_of({LA, BX, EP}), any_of({CU})}, 0, kPair),
        alt({any_of({kPySpace}), any_of({UA}), any_of({CU})}, 1, kPair),
        alt({any_of({UA, BX}), any_of({NU, LW})}, 0, kPair),
        alt({any_of({LA, UA, BX, CU, EP}), any_of({SP}), any_of({NU})}, 1, kPair),
        alt({any_of({LA, UA, CU, NU, BX, LW}), any_of({EP}), any_of({SP})}, 1, kPair),
        alt({any_of({CU, NU, BX}), any_of({SP})}, 0, kPair),
        alt({any_of({"a-z"}), any_of({UA}), any_of({SP, CU})}, 1, kPair),
        alt({any_of({BX}), any_of({kKaomoji})}, 0, kSingle),
        alt({any_of({LA, UA, CU, NU, SP, EP, LW}), any_of({BX})}, 1, kSingle),
        alt({any_of({BX}), any_of({EP})}, 0, kSingle),
        alt({any_of({LA, UA}), any_of({SP, EP}), raw("[\\p{L}\\p{N}_]")}, 0, kPair),  // Python's \w
        alt({any_of({"Œœ"}), raw(set({"A-Za-z"}, true))}, 0, kSingle),
        alt({any_of({UA}), chars("°")[0]}, 0, kPair),
        alt({any_of({"ÂÃÎÐ"}), any_of({"€œŠš¢£Ÿž\u00a0\u00ad®©°·»", SP, EP, "–—´"})}, 0, kPair),
        alt(chars("×") + any_of({"²³"}), 0, kPair),
        alt({any_of({"ØÙ"}), arabic, any_of({"ØÙ"}), arabic}, 0, kPair),
        alt(chars("à") + any_of({"²µ¹¼½¾"}), 0, kPair),
        alt(chars("√") + any_of({"±∂†≠®™´≤≥¥µø"}), 0, kPair),
        alt(chars("≈") + any_of({"°¢"}), 0, kPair),
        alt(chars("‚Ä") + any_of({"ìîïòôúùû†°¢π"}), 0, kPair),
        alt(chars("‚") + any_of({"âó"}) + any_of({"àä°ê"}), 0, kPair),
        alt(chars("вЂ"), 0, kPair),
        alt({any_of({"ВГРС"}), c1_and_more, any_of({"ВГРС"})}, 0, kPair),
        alt(chars("ГўВЂВ") + raw("[^\\n]") + any_of({"A-Za-z "}), 0, kPair),
        alt(chars("Ã") + any_of({"\u00a0¡"}), 0, kPair),
        alt({any_of({"a-z"}), raw(set({kPySpace}) + "?"), any_of({"ÃÂ"}), any_of({" "})}, 2, kSingle),
        alt({raw("^"), any_of({"ÃÂ"}), any_of({" "})}, 1, kSingle),  // at the start of the text
        alt(std::vector<Position>{any_of({"a-z.,?!", EP})} + chars("Â")[0] + any_of({" ", SP, EP}), 1, kSingle),
        alt(chars("β€") + any_of({"™\u00a0Ά\u00ad®°"}), 0, kPair),
        alt({any_of({"ΒΓΞΟ"}), any_of({kC1, B, SP, EP, CU, "°"}), any_of({"ΒΓΞΟ"})}, 0, kPair),
        alt(chars("ā€"), 0, kPair),
    };
  }();
  return list;
}

// ftfy.badness.BADNESS_RE.
std::string badness_pattern() {
  std::string pattern;
  for (const Alternative& a : badness_alternatives()) {
    if (!pattern.empty()) pattern += '|';
    for (const Position& p : a.positions) pattern += p.regex;
  }
  return pattern;
}

// A necessary condition for BADNESS_RE to match, checked in one pass of table look-ups: a
// character of a single key, or two adjacent characters of a pair's first and second sets.
// Profiled on bench_multilingual.jsonl, the regex was ~30% of all tokenizing time while
// nearly every string is clean; the regex still decides whenever this says "maybe".
class BadnessFilter {
 public:
  static const BadnessFilter& get() {
    static const BadnessFilter instance;
    return instance;
  }
  bool may_match(std::u32string_view text) const {
    std::uint64_t previous = 0;
    for (char32_t c : text) {
      const std::uint64_t m = mask(c);
      if ((m & 1) || ((previous >> 1) & (m >> (1 + kMaxPairs)) & kPairBits)) return true;
      previous = m;
    }
    return false;
  }

 private:
  static constexpr int kMaxPairs = 31;
  static constexpr std::uint64_t kPairBits = (std::uint64_t{1} << kMaxPairs) - 1;

  BadnessFilter() {
    blocks_.emplace_back();  // block 0: no member
    int pairs = 0;
    for (const Alternative& a : badness_alternatives()) {
      if (!a.pair) {
        mark(a.positions.at(a.key).members, 1);
        continue;
      }
      if (pairs == kMaxPairs) throw Error("internal error: too many badness pairs");
      mark(a.positions.at(a.key).members, std::uint64_t{2} << pairs);
      mark(a.positions.at(a.key + 1).members, std::uint64_t{2} << (kMaxPairs + pairs));
      ++pairs;
    }
  }
  void mark(const std::u32string& members, std::uint64_t bit) {
    if (members.empty()) throw Error("internal error: a badness key that is not a plain set");
    for (char32_t c : members) {
      if (c < 0x80 || c > 0xFFFF) throw Error("internal error: a badness key with ASCII or astral characters");
      std::uint16_t& block = index_[c >> 8];
      if (block == 0) {
        block = static_cast<std::uint16_t>(blocks_.size());
        blocks_.emplace_back();
      }
      blocks_[block][c & 0xFF] |= bit;
    }
  }
  std::uint64_t mask(char32_t c) const { return c > 0xFFFF ? 0 : blocks_[index_[c >> 8]][c & 0xFF]; }

  std::array<std::uint16_t, 256> index_{};  // BMP block -> blocks_ entry
  std::vector<std::array<std::uint64_t, 256>> blocks_;
};

// ftfy.chardata.UTF8_DETECTOR_RE: runs of what look like UTF-8 sequences read as
// single bytes, not preceded by another continuation-like character.
std::string utf8_detector_pattern() {
  const std::string cont = set(utf8_continuation());
  return "(?<!" + set(utf8_continuation_strict()) + ")(?:" + set(utf8_first_of_2()) + cont + "|" +
         set(utf8_first_of_3()) + cont + "{2}|" + set(utf8_first_of_4()) + cont + "{3})+";
}

// Compiled once; a RegexMatcher is made per call, so matching is thread-safe.
class Patterns {
 public:
  static const Patterns& get() {
    static const Patterns instance;
    return instance;
  }
  std::unique_ptr<icu::RegexMatcher> badness(const icu::UnicodeString& s) const { return matcher(*badness_, s); }
  std::unique_ptr<icu::RegexMatcher> utf8_detector(const icu::UnicodeString& s) const {
    return matcher(*utf8_detector_, s);
  }

 private:
  Patterns() : badness_(compile(badness_pattern())), utf8_detector_(compile(utf8_detector_pattern())) {}
  static std::unique_ptr<icu::RegexPattern> compile(const std::string& pattern) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError parse_error;
    std::unique_ptr<icu::RegexPattern> p(
        icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(pattern), 0, parse_error, status));
    if (U_FAILURE(status))
      throw Error(std::string("internal error: bad mojibake pattern: ") + u_errorName(status) + " at offset " +
                  std::to_string(parse_error.offset));
    return p;
  }
  static std::unique_ptr<icu::RegexMatcher> matcher(const icu::RegexPattern& p, const icu::UnicodeString& s) {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(p.matcher(s, status));
    if (U_FAILURE(status)) throw Error("internal error: cannot create a regex matcher");
    return m;
  }
  std::unique_ptr<icu::RegexPattern> badness_;
  std::unique_ptr<icu::RegexPattern> utf8_detector_;
};

icu::UnicodeString to_icu(std::u32string_view s) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
}

std::u32string from_icu(const icu::UnicodeString& s) {
  std::u32string out;
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

bool is_ascii(std::u32string_view s) {
  for (char32_t c : s)
    if (c >= 0x80) return false;
  return true;
}

// --- Single-byte codecs ------------------------------------------------------------

constexpr int kNumCharmaps = static_cast<int>(Charmap::Count);

class CharmapEncoder {
 public:
  static const CharmapEncoder& get() {
    static const CharmapEncoder instance;
    return instance;
  }
  // text.encode(encoding), or nullopt when a character has no byte in it.
  std::optional<std::string> encode(std::u32string_view text, Charmap enc) const {
    const auto& table = reverse_[static_cast<int>(enc)];
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) {
      if (c < 0x80 && c != 0x1A) {
        out.push_back(static_cast<char>(c));
        continue;
      }
      auto it = table.find(c);
      if (it == table.end()) return std::nullopt;
      out.push_back(static_cast<char>(it->second));
    }
    return out;
  }

 private:
  CharmapEncoder() {
    for (int e = 0; e < kNumCharmaps; ++e) {
      const auto enc = static_cast<Charmap>(e);
      for (int b : {0x1A}) reverse_[e].emplace(charmap_decode(enc, b), b);
      for (int b = 0x80; b < 0x100; ++b) {
        const std::int32_t c = charmap_decode(enc, static_cast<unsigned char>(b));
        if (c >= 0) reverse_[e].emplace(static_cast<char32_t>(c), static_cast<unsigned char>(b));
      }
    }
  }
  std::array<std::unordered_map<char32_t, unsigned char>, kNumCharmaps> reverse_;
};

// --- Byte-level repairs (ftfy.fixes.restore_byte_a0, replace_lossy_sequences) -------

// ALTERED_UTF8_RE: length of the match at bytes[i], or 0.
std::size_t altered_utf8_at(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) -> int { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1; };
  const auto cont = [](int c) { return c >= 0x80 && c <= 0xBF; };
  const auto cont_not85_a0 = [](int c) {
    return (c >= 0x80 && c <= 0x84) || (c >= 0x86 && c <= 0x9F) || (c >= 0xA1 && c <= 0xBF);
  };
  const int b0 = at(0);
  if ((b0 == 0xC2 || b0 == 0xC3 || b0 == 0xC5 || b0 == 0xCE || b0 == 0xD0 || b0 == 0xD9) && at(1) == ' ') return 2;
  if ((b0 == 0xE2 || b0 == 0xE3) && at(1) == ' ' && cont_not85_a0(at(2))) return 3;
  if (b0 >= 0xE0 && b0 <= 0xE3 && cont_not85_a0(at(1)) && at(2) == ' ') return 3;
  if (b0 == 0xF0) {
    if (at(1) == ' ' && cont(at(2)) && cont(at(3))) return 4;
    if (cont(at(1)) && at(2) == ' ' && cont(at(3))) return 4;
    if (cont(at(1)) && cont(at(2)) && at(3) == ' ') return 4;
  }
  return 0;
}

bool contains_altered_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (altered_utf8_at(s, i)) return true;
  return false;
}

std::string restore_byte_a0(std::string_view s) {
  // A_GRAVE_WORD_RE: "\xc3 " not followed by " ", "quele", "quela", "quilo" or "s ".
  std::string step;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xC3 && i + 1 < s.size() && s[i + 1] == ' ') {
      const std::string_view rest = s.substr(i + 2);
      const bool excluded = rest.starts_with(" ") || rest.starts_with("quele") || rest.starts_with("quela") ||
                            rest.starts_with("quilo") || rest.starts_with("s ");
      if (!excluded) {
        step += "\xC3\xA0 ";
        ++i;
        continue;
      }
    }
    step.push_back(s[i]);
  }
  std::string out;
  for (std::size_t i = 0; i < step.size();) {
    if (const std::size_t n = altered_utf8_at(step, i)) {
      for (std::size_t k = 0; k < n; ++k) out.push_back(step[i + k] == ' ' ? '\xA0' : step[i + k]);
      i += n;
    } else {
      out.push_back(step[i++]);
    }
  }
  return out;
}

// LOSSY_UTF8_RE: length of the match at bytes[i], or 0.
std::size_t lossy_utf8_at(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) -> int { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1; };
  const auto sub_q = [](int c) { return c == 0x1A || c == '?'; };
  const auto sub_cont = [](int c) { return c == 0x1A || (c >= 0x80 && c <= 0xBF); };
  const auto any = [&](int c) { return sub_q(c) || (c >= 0x80 && c <= 0xBF); };
  const int b0 = at(0);
  if (b0 >= 0xC2 && b0 <= 0xDF && at(1) == 0x1A) return 2;
  if ((b0 == 0xC2 || b0 == 0xC3) && at(1) == '?') return 2;
  if (b0 == 0xED && at(1) >= 0xA0 && at(1) <= 0xAF && at(3) == 0xED && at(4) >= 0xB0 && at(4) <= 0xBF) {
    if (sub_q(at(2)) && any(at(5))) return 6;
    if (any(at(2)) && sub_q(at(5))) return 6;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (sub_q(at(1)) && sub_cont(at(2))) return 3;
    if (sub_cont(at(1)) && sub_q(at(2))) return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (sub_q(at(1)) && sub_cont(at(2)) && sub_cont(at(3))) return 4;
    if (sub_cont(at(1)) && sub_q(at(2)) && sub_cont(at(3))) return 4;
    if (sub_cont(at(1)) && sub_cont(at(2)) && sub_q(at(3))) return 4;
  }
  if (b0 == 0x1A) return 1;
  return 0;
}

std::string replace_lossy_sequences(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (const std::size_t n = lossy_utf8_at(s, i)) {
      out += "\xEF\xBF\xBD";
      i += n;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

bool is_sloppy(Charmap enc) { return enc >= Charmap::SloppyWindows1252 && enc <= Charmap::SloppyWindows1257; }

std::u32string decode_inconsistent_utf8(const std::u32string& text) {
  const icu::UnicodeString s = to_icu(text);
  auto m = Patterns::get().utf8_detector(s);
  icu::UnicodeString out;
  int32_t last = 0;
  UErrorCode status = U_ZERO_ERROR;
  while (m->find()) {
    const int32_t start = m->start(status), end = m->end(status);
    const std::u32string piece = from_icu(s.tempSubStringBetween(start, end));
    out.append(s, last, start - last);
    if (piece.size() < text.size() && is_bad(piece))
      out.append(to_icu(fix_encoding(piece)));
    else
      out.append(s, start, end - start);
    last = end;
  }
  out.append(s, last, s.length() - last);
  return from_icu(out);
}

bool has_c1(std::u32string_view s) {
  for (char32_t c : s)
    if (c >= 0x80 && c <= 0x9F) return true;
  return false;
}

// One step of ftfy._fix_encoding_one_step_and_explain.
std::u32string fix_encoding_one_step(const std::u32string& text) {
  if (text.empty() || is_ascii(text) || !is_bad(text)) return text;

  bool latin1_possible = false;
  for (int e = 0; e < kNumCharmaps; ++e) {
    const auto enc = static_cast<Charmap>(e);
    std::optional<std::string> bytes = CharmapEncoder::get().encode(text, enc);
    if (!bytes) continue;
    if (enc == Charmap::Latin1) latin1_possible = true;
    if (enc != Charmap::MacRoman && contains_altered_utf8(*bytes)) *bytes = restore_byte_a0(*bytes);
    if (is_sloppy(enc)) *bytes = replace_lossy_sequences(*bytes);
    const bool variants = bytes->find('\xED') != std::string::npos || bytes->find('\xC0') != std::string::npos;
    if (auto fixed = decode_utf8(*bytes, variants)) return *fixed;
  }

  {
    const icu::UnicodeString s = to_icu(text);
    if (Patterns::get().utf8_detector(s)->find()) {
      std::u32string fixed = decode_inconsistent_utf8(text);
      if (fixed != text) return fixed;
    }
  }

  if (latin1_possible) {
    // Latin-1 that was meant as Windows-1252, when every byte is defined there.
    std::u32string fixed;
    bool ok = true;
    for (char32_t c : text) {
      const std::int32_t d = charmap_decode(Charmap::SloppyWindows1252, static_cast<unsigned char>(c));
      if (c >= 0x80 && c <= 0x9F && d == static_cast<std::int32_t>(c)) {
        ok = false;  // undefined in strict Windows-1252
        break;
      }
      fixed.push_back(c == 0x1A ? c : static_cast<char32_t>(d));
    }
    if (ok && fixed != text) return fixed;
  }

  if (has_c1(text)) return fix_c1_controls(text);
  return text;
}

}  // namespace

bool is_bad(std::u32string_view text) { return BadnessFilter::get().may_match(text) && is_bad_by_regex(text); }

bool is_bad_by_regex(std::u32string_view text) {
  const icu::UnicodeString s = to_icu(text);
  return Patterns::get().badness(s)->find();
}

std::u32string badness_alphabet() {
  std::u32string out;
  for (const Alternative& a : badness_alternatives())
    for (const Position& p : a.positions) out += p.members;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::u32string fix_c1_controls(std::u32string_view text) {
  std::u32string out(text);
  for (char32_t& c : out)
    if (c >= 0x80 && c <= 0x9F)
      c = static_cast<char32_t>(charmap_decode(Charmap::SloppyWindows1252, static_cast<unsigned char>(c)));
  return out;
}

std::u32string fix_encoding(std::u32string text) {
  while (true) {
    std::u32string next = fix_encoding_one_step(text);
    if (next == text) return text;
    text = std::move(next);
  }
}

}  // namespace clip::text
