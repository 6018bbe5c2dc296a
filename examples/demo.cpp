// The reference's README demo, line by line in C++:
//   ./demo [MODEL] [IMAGE]   (default: ViT-B/32, downloaded on first use, and CLIP.png)
#include <clip/clip.h>

#include <iostream>

int main(int argc, char** argv) try {
  const std::string name = argc > 1 ? argv[1] : "ViT-B/32";
  const std::string file = argc > 2 ? argv[2] : "CLIP.png";

  const std::string device = clip::default_device();
  auto [model, preprocess] = clip::load(name, device);

  const clip::Tensor image = clip::stack({preprocess(clip::Image::open(file))});
  const clip::Tensor text = clip::tokenize({"a diagram", "a dog", "a cat"});

  const clip::Tensor image_features = model.encode_image(image);
  const clip::Tensor text_features = model.encode_text(text);

  auto [logits_per_image, logits_per_text] = model(image, text);
  const clip::Tensor probs = clip::softmax(logits_per_image, -1);

  std::cout << "Label probs: " << probs << "\n";  // ViT-B/32: [[0.9927937 0.00421068 0.00299572]]
} catch (const clip::Error& e) {
  std::cerr << "demo: " << e.what() << "\n";
  return 1;
}
