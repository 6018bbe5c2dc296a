// The reference backend: every operation as the plain loops its contract describes,
// accumulating in double, one thread. Slow, and the yardstick the conformance tests hold
// every backend to. The CPU backend takes its data movement from here unchanged.
#pragma once

#include <memory>

#include "runtime/activation_pool.h"
#include "runtime/backend.h"

namespace clip::runtime {

class ReferenceBackend : public Backend {
 public:
  std::string name() const override { return "reference"; }
  void set_num_threads(int threads) override;
  int num_threads() const override { return threads_; }
  void clear_weight_cache() override {}
  // Ignored: the reference always computes in float32 with double accumulation.
  void set_bf16_linear(bool) override {}

  Buffer allocate(std::int64_t count) override;
  void upload(const float* host, std::int64_t count, float* y) override;
  void download(const float* x, std::int64_t count, float* host) override;

  void linear(const float* x, std::int64_t m, std::int64_t k, Weights w, std::int64_t n, const float* bias, float* y,
              bool w_is_kn, Epilogue epilogue) override;
  void linear(const float* x, std::int64_t m, std::int64_t k, const std::vector<Projection>& projections) override;
  void attention(const float* q, const float* k, const float* v, float* out, std::int64_t n, std::int64_t heads,
                 std::int64_t q_rows, std::int64_t kv_rows, std::int64_t head_dim, bool causal) override;
  // Projects the keys and values, then attention(): the definition.
  void single_query_attention(const float* q, const float* x, std::int64_t n, std::int64_t kv_rows, std::int64_t heads,
                              std::int64_t head_dim, Weights wk, const float* bk, Weights wv, const float* bv,
                              float* out) override;
  Layout map_layout(std::int64_t) const override { return Layout::NHWC; }
  // Maps in other layouts are moved to NHWC and back around the NHWC loops.
  void conv2d(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, const float* weight,
              std::int64_t out_c, std::int64_t kernel, std::int64_t stride, std::int64_t pad, const float* bias,
              float* y, Epilogue epilogue, Layout in, Layout out) override;
  void layer_norm(const float* x, std::int64_t rows, std::int64_t d, const float* gamma, const float* beta,
                  float* y) override;
  void softmax(float* x, std::int64_t rows, std::int64_t n, bool causal, std::int64_t rows_per_matrix) override;
  void relu(float* x, std::int64_t count) override;
  void add(const float* x, float* y, std::int64_t count) override;
  void batch_norm(float* x, std::int64_t n, std::int64_t c, std::int64_t hw, const float* mean, const float* var,
                  const float* gamma, const float* beta, Layout layout) override;
  void avg_pool(const float* x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t k,
                float* y, Layout layout) override;

  void to_channels_last(const float* x, Layout from, std::int64_t n, std::int64_t c, std::int64_t hw,
                        float* y) override;
  void patchify(const float* images, std::int64_t n, std::int64_t c, std::int64_t r, std::int64_t p, float* y) override;
  void prepend_and_add_positions(const float* x, std::int64_t n, std::int64_t rows, std::int64_t d, const float* first,
                                 const float* pos, float* y) override;
  void gather_rows(const float* x, std::int64_t d, const std::vector<std::int64_t>& rows, float* y) override;
  void embed_tokens(const float* table, const float* pos, std::int64_t d, const std::vector<std::int64_t>& ids,
                    const std::vector<std::int64_t>& positions, float* y) override;

 protected:
  // NHWC -> Blocked16 (the inverse of to_channels_last from Blocked16); clip::Error for a
  // channel count that is not a multiple of 16.
  static void from_channels_last(const float* x, Layout to, std::int64_t n, std::int64_t c, std::int64_t hw, float* y);

  int threads_ = 1;
  std::shared_ptr<ActivationPool> pool_ = ActivationPool::create();
};

}  // namespace clip::runtime
