// Tensor operations of the public API (torch's softmax, normalize, the CLIP logits).
#include <algorithm>
#include <cmath>

#include "clip/tensor.h"

namespace clip {

Tensor normalize(const Tensor& x) {
  if (x.dtype() != DType::Float32 || x.dim() < 1) throw Error("normalize: expected a float32 tensor");
  Tensor out = x.clone();
  const std::int64_t d = x.size(-1), rows = d ? x.numel() / d : 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = out.data<float>() + r * d;
    double sum = 0;
    for (std::int64_t i = 0; i < d; ++i) sum += static_cast<double>(row[i]) * row[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (std::int64_t i = 0; i < d; ++i) row[i] *= inv;
  }
  return out;
}

Tensor softmax(const Tensor& x, int dim) {
  if (x.dtype() != DType::Float32) throw Error("softmax: expected a float32 tensor");
  const std::int64_t rank = x.dim(), axis = dim < 0 ? dim + rank : dim;
  if (axis < 0 || axis >= rank)
    throw Error("softmax: dimension " + std::to_string(dim) + " out of range for " + x.shape_string());
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < axis; ++i) outer *= x.size(i);
  for (std::int64_t i = axis + 1; i < rank; ++i) inner *= x.size(i);
  const std::int64_t len = x.size(axis);
  Tensor out = x.clone();
  float* p = out.data<float>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t in = 0; in < inner; ++in) {
      const auto at = [&](std::int64_t i) -> float& { return p[(o * len + i) * inner + in]; };
      float max = at(0);
      for (std::int64_t i = 1; i < len; ++i) max = std::max(max, at(i));
      double sum = 0;
      for (std::int64_t i = 0; i < len; ++i) sum += at(i) = std::exp(at(i) - max);
      for (std::int64_t i = 0; i < len; ++i) at(i) = static_cast<float>(at(i) / sum);
    }
  return out;
}

Tensor cosine_similarity(const Tensor& a, const Tensor& b) {
  if (a.dtype() != DType::Float32 || b.dtype() != DType::Float32 || a.dim() != 2 || b.dim() != 2 ||
      a.size(1) != b.size(1))
    throw Error("cannot compare features " + a.shape_string() + " " + dtype_name(a.dtype()) + " and " +
                b.shape_string() + " " + dtype_name(b.dtype()) + ": expected float32 [N, D] and [M, D]");
  const Tensor na = normalize(a), nb = normalize(b);
  const std::int64_t n = a.size(0), m = b.size(0), d = a.size(1);
  Tensor out({n, m}, DType::Float32);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      double dot = 0;
      for (std::int64_t k = 0; k < d; ++k)
        dot += static_cast<double>(na.data<float>()[i * d + k]) * nb.data<float>()[j * d + k];
      out.data<float>()[i * m + j] = static_cast<float>(dot);
    }
  return out;
}

std::pair<Tensor, Tensor> logits(const Tensor& image_features, const Tensor& text_features, float logit_scale) {
  Tensor per_image = cosine_similarity(image_features, text_features);
  const std::int64_t ni = per_image.size(0), nt = per_image.size(1);
  Tensor per_text({nt, ni}, DType::Float32);
  const float scale = std::exp(logit_scale);
  for (std::int64_t i = 0; i < ni; ++i)
    for (std::int64_t t = 0; t < nt; ++t)
      per_image.data<float>()[i * nt + t] = per_text.data<float>()[t * ni + i] =
          scale * per_image.data<float>()[i * nt + t];
  return {per_image, per_text};
}

}  // namespace clip
