// Random strings over a given alphabet, for the text tests that compare a fast path with
// its reference on many short strings.
#pragma once

#include <random>
#include <string>

namespace clip::test {

class RandomText {
 public:
  RandomText(std::u32string alphabet, std::size_t max_length, unsigned seed)
      : alphabet_(std::move(alphabet)), rng_(seed), pick_(0, alphabet_.size() - 1), length_(1, max_length) {}

  // 1 to max_length characters, each drawn from the alphabet.
  std::u32string next() {
    std::u32string s(length_(rng_), U' ');
    for (char32_t& c : s) c = alphabet_[pick_(rng_)];
    return s;
  }

 private:
  std::u32string alphabet_;
  std::mt19937 rng_;
  std::uniform_int_distribution<std::size_t> pick_, length_;
};

}  // namespace clip::test
