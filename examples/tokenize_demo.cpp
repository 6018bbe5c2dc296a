// The tokenizer example of the README, compiled and run by the test suite.
#include <clip/clip.h>

#include <iostream>

int main() {
  clip::Tensor tokens = clip::tokenize({"a diagram", "a dog", "a cat"});            // int32 [3, 77]
  std::cout << tokens.shape_string() << " " << tokens.at<int32_t>({1, 2}) << "\n";  // [3, 77] 1929

  const clip::SimpleTokenizer& tok = clip::SimpleTokenizer::official();
  std::vector<int32_t> ids = tok.encode("Hello,world!");
  for (int32_t id : ids) std::cout << id << " ";   // 3306 267 1002 256
  std::cout << "\n[" << tok.decode(ids) << "]\n";  // [hello , world ! ]

  std::string long_text;
  for (int i = 0; i < 20; ++i) long_text += "a photo of a cat. ";  // 120 tokens
  try {
    clip::tokenize(long_text, 77, /*truncate=*/false);
  } catch (const clip::Error& e) {
    std::cout << e.what() << "\n";  // Input a photo of a cat. ... is too long for context length 77
  }
  clip::Tensor cut = clip::tokenize(long_text, 77, /*truncate=*/true);
  std::cout << cut.at<int32_t>({0, 76}) << "\n";  // 49407: the last id is always <|endoftext|>
}
