// The clip-cpp side of bench/compare: loads the benchmark models (each in fp32 and bf16),
// then for each line on stdin, "<workload> <inputs.npy> [<features_out.npy>]", runs the
// workload once and prints its wall time in milliseconds (writing the features when
// asked). Workload "vitb32_image_b8_bf16" runs model "vitb32" in bf16.
//   engine_worker THREADS NAME=CHECKPOINT...   (THREADS 0: the library's default count)
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
  std::map<std::string, clip::Model> models;  // "vitb32", "vitb32_bf16"
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const clip::Checkpoint checkpoint = clip::Checkpoint::load(arg.substr(eq + 1));
    for (const clip::Precision precision : {clip::Precision::FP32, clip::Precision::BF16}) {
      clip::Model m = clip::Model::from_checkpoint(checkpoint, "cpu", true, precision);
      if (threads > 0) m.set_num_threads(threads);  // 0: the library's default
      const std::string suffix = precision == clip::Precision::BF16 ? "_bf16" : "";
      models.emplace(arg.substr(0, eq) + suffix, m);
    }
  }
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string workload, input, output;
    in >> workload >> input >> output;
    if (workload.empty()) continue;
    const std::string model_name =
        workload.substr(0, workload.find('_')) + (workload.ends_with("_bf16") ? "_bf16" : "");
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
