// Prints how many threads this process has after loading a model and running its first
// encodes, with the process and model thread counts given: OpenMP keeps every thread it
// starts, so the count is the most the library ever used at once.
// Usage: thread_probe MODEL.pt IMAGES.npy TOKENS.npy PROCESS_THREADS MODEL_THREADS
//        thread_probe --default   (prints clip::get_num_threads())
#include <filesystem>
#include <iostream>
#include <string>

#include "clip/clip.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--default") {
    std::cout << clip::get_num_threads() << '\n';
    return 0;
  }
  if (argc != 6) return 2;
  clip::set_num_threads(std::stoi(argv[4]));
  clip::Model model = clip::Model::from_checkpoint(clip::Checkpoint::load(argv[1]));
  model.set_num_threads(std::stoi(argv[5]));
  // The image first: its first operation converts the float16 patch weights (393,216
  // values, enough for a parallel loop) before anything has set OpenMP's thread count.
  model.encode_image(clip::load_npy(argv[2]));
  model.encode_text(clip::load_npy(argv[3]));
  std::size_t threads = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++threads;
  std::cout << threads << '\n';
  return 0;
}
