// The clip-cpp side of bench/compare: loads the benchmark models, then for each line on
// stdin, "<workload> <inputs.npy> [<features_out.npy>]", runs the workload once and prints
// its wall time in milliseconds (writing the features when asked).
//   engine_worker THREADS NAME=CHECKPOINT...
#include <chrono>
#include <iostream>
#include <map>
#include <sstream>

#include "clip/clip.h"

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: engine_worker THREADS NAME=CHECKPOINT...\n";
    return 2;
  }
  const int threads = std::stoi(argv[1]);
  std::map<std::string, clip::Model> models;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    clip::Model m = clip::Model::from_checkpoint(clip::Checkpoint::load(arg.substr(eq + 1)), "cpu", true);
    m.set_num_threads(threads);
    models.emplace(arg.substr(0, eq), m);
  }
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string workload, input, output;
    in >> workload >> input >> output;
    if (workload.empty()) continue;
    const std::string model_name = workload.substr(0, workload.find('_'));
    const bool image = workload.find("_image") != std::string::npos;
    const clip::Model& model = models.at(model_name);
    const clip::Tensor x = clip::load_npy(input);
    const auto t0 = std::chrono::steady_clock::now();
    const clip::Tensor f = image ? model.encode_image(x) : model.encode_text(x);
    const auto t1 = std::chrono::steady_clock::now();
    if (!output.empty()) clip::save_npy(output, f);
    std::cout << std::chrono::duration<double, std::milli>(t1 - t0).count() << std::endl;
  }
} catch (const std::exception& e) {
  std::cerr << "engine_worker: " << e.what() << "\n";
  return 1;
}
