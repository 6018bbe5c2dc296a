#include "runtime/bf16_check.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/half.h"
#include "runtime/onednn_api.h"

namespace clip::runtime {
namespace {

using DT = dnnl::memory::data_type;
using Tag = dnnl::memory::format_tag;

constexpr dnnl::memory::dim kM = 128, kK = 768, kN = 768;
constexpr double kMinSpeedup = 1.25;

// One product of the calibration shape in `type` (weights packed as the primitive wants).
class Product {
 public:
  Product(const dnnl::engine& engine, DT type, const std::vector<float>& x, const std::vector<float>& w)
      : engine_(engine) {
    const dnnl::memory::desc src({kM, kK}, type, Tag::ab), dst({kM, kN}, DT::f32, Tag::ab);
    const auto pd = onednn::matmul(engine, src, dnnl::memory::desc({kK, kN}, type, Tag::any), dnnl::memory::desc(), dst,
                                   dnnl::primitive_attr());
    matmul_ = dnnl::matmul(pd);
    src_ = dnnl::memory(pd.src_desc(), engine);
    dst_ = dnnl::memory(pd.dst_desc(), engine);
    weights_ = dnnl::memory(pd.weights_desc(), engine);
    dnnl::memory plain_w(dnnl::memory::desc({kK, kN}, DT::f32, Tag::ab), engine, const_cast<float*>(w.data()));
    dnnl::stream stream(engine);
    dnnl::reorder(plain_w, weights_).execute(stream, plain_w, weights_);
    stream.wait();
    if (type == DT::bf16)
      core::float_to_bfloat16(x.data(), static_cast<std::uint16_t*>(src_.get_data_handle()), kM * kK);
    else
      std::memcpy(src_.get_data_handle(), x.data(), x.size() * sizeof(float));
  }
  double run_ms() {
    dnnl::stream stream(engine_);
    const auto start = std::chrono::steady_clock::now();
    matmul_.execute(stream, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst_}});
    stream.wait();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }

 private:
  dnnl::engine engine_;
  dnnl::matmul matmul_;
  dnnl::memory src_, dst_, weights_;
};

bool calibrate(const dnnl::engine& engine) {
  // On one thread: the ratio is the core's, and a thread waiting at a barrier for a core
  // that a neighbour holds would time the neighbour instead (measured: with one busy process
  // beside it, 2 threads gave 41 vs 37 GFLOP/s on a Zen 4 where bf16 is 2x on a quiet core).
  struct OneThread {  // oneDNN runs on the calling thread's OpenMP count
    int previous = omp_get_max_threads();
    OneThread() { omp_set_num_threads(1); }
    ~OneThread() { omp_set_num_threads(previous); }
  } one_thread;
  std::vector<float> x(kM * kK), w(kK * kN);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) * 0.01f - 0.06f;
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) * 0.02f - 0.06f;
  std::unique_ptr<Product> bf16;
  try {
    bf16 = std::make_unique<Product>(engine, DT::bf16, x, w);
  } catch (const dnnl::error&) {
    return true;  // no bf16 matmuls here: the model's own product reports it
  }
  Product fp32(engine, DT::f32, x, w);
  double best32 = 1e30, best16 = 1e30;
  fp32.run_ms();  // first runs: caches and oneDNN's lazy set-up
  bf16->run_ms();
  for (int i = 0; i < 5; ++i) {  // interleaved, so that a neighbour's burst hits both
    best32 = std::min(best32, fp32.run_ms());
    best16 = std::min(best16, bf16->run_ms());
  }
  const bool pays = best32 >= kMinSpeedup * best16;
  if (!pays) {
    const double flop = 2.0 * kM * kK * kN;
    std::fprintf(stderr,
                 "clip: note: bfloat16 matrix products are not faster than float32 on this CPU (%.0f vs %.0f "
                 "GFLOP/s on one core); precision bf16 runs in fp32 here (CLIP_BF16=on forces bf16)\n",
                 flop / best16 / 1e6, flop / best32 / 1e6);
  }
  return pays;
}

}  // namespace

bool bf16_pays(const dnnl::engine& engine) {
  static std::once_flag once;
  static bool pays = true;
  std::call_once(once, [&] {
    const char* env = std::getenv("CLIP_BF16");
    const std::string mode = env ? env : "auto";
    if (mode == "on") {
      pays = true;
    } else if (mode == "off") {
      pays = false;
      std::fprintf(stderr, "clip: note: CLIP_BF16=off: precision bf16 runs in fp32\n");
    } else {
      if (mode != "auto")
        std::fprintf(stderr, "clip: note: CLIP_BF16=%s is not on, off or auto; using auto\n", mode.c_str());
      pays = calibrate(engine);
    }
  });
  return pays;
}

}  // namespace clip::runtime
