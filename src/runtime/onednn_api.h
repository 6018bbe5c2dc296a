// The primitive descriptors the CPU backend uses, written once for both oneDNN API
// generations: 2.x (Debian 12 ships 2.6) and 3.x (Debian 13 ships 3.7).
//
// oneDNN 3.0 removed the operation descriptors (`dnnl::matmul::desc` ...: primitive
// descriptors are now made directly, engine first), dropped the scale argument of
// `post_ops::append_eltwise`, and removed output scales (the attention scale is therefore
// a `linear` post-op, the same single multiplication of the fp32 accumulator in both
// generations). 3.7 also needs weights staged before packing (packing_source). Everything
// else the backend uses is the same in both; this is the only place that names a oneDNN
// version.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#if DNNL_VERSION_MAJOR < 2 || DNNL_VERSION_MAJOR > 3 || (DNNL_VERSION_MAJOR == 2 && DNNL_VERSION_MINOR < 6)
#error "clip-cpp builds against oneDNN 2.6 to 3.x"
#endif

namespace clip::runtime::onednn {

// The layout to copy weights into before reordering them into a primitive's packed layout
// (or `weights` itself: no intermediate copy). oneDNN 3.7's jit reorder into a padded
// blocked layout (output channels not a multiple of the block, e.g. 512 in blocks of 48)
// writes wrong values into the last block unless the output channels are the innermost
// dimension of its source: [k, n] matrices must be row-major (ab), [o, i, h, w]
// convolution weights i-h-w-o (bcda). Measured in tests/runtime/cpu_backend_test.cpp;
// oneDNN 2.6 is right from any layout.
inline dnnl::memory::desc packing_source(const dnnl::memory::desc& weights) {
#if DNNL_VERSION_MAJOR >= 3
  using Tag = dnnl::memory::format_tag;
  const dnnl::memory::dims dims = weights.get_dims();
  if (dims.size() == 2) return dnnl::memory::desc(dims, weights.get_data_type(), Tag::ab);
  if (dims.size() == 4) return dnnl::memory::desc(dims, weights.get_data_type(), Tag::bcda);
#endif
  return weights;
}

// dst = alpha * f(x) + beta as a post-op (f: eltwise_swish, eltwise_gelu_erf, eltwise_relu,
// eltwise_linear ...).
inline void append_eltwise(dnnl::post_ops& post, dnnl::algorithm algorithm, float alpha, float beta) {
#if DNNL_VERSION_MAJOR >= 3
  post.append_eltwise(algorithm, alpha, beta);
#else
  post.append_eltwise(1.0f, algorithm, alpha, beta);
#endif
}

// `bias` may be an empty descriptor (no bias).
inline dnnl::matmul::primitive_desc matmul(const dnnl::engine& engine, const dnnl::memory::desc& src,
                                           const dnnl::memory::desc& weights, const dnnl::memory::desc& bias,
                                           const dnnl::memory::desc& dst, const dnnl::primitive_attr& attr) {
  const bool has_bias = !bias.is_zero();
#if DNNL_VERSION_MAJOR >= 3
  return has_bias ? dnnl::matmul::primitive_desc(engine, src, weights, bias, dst, attr)
                  : dnnl::matmul::primitive_desc(engine, src, weights, dst, attr);
#else
  return dnnl::matmul::primitive_desc(
      has_bias ? dnnl::matmul::desc(src, weights, bias, dst) : dnnl::matmul::desc(src, weights, dst), attr, engine);
#endif
}

// Square kernels, the same stride and padding on both axes; `bias` may be empty.
inline dnnl::convolution_forward::primitive_desc convolution(const dnnl::engine& engine, dnnl::algorithm algorithm,
                                                             const dnnl::memory::desc& src,
                                                             const dnnl::memory::desc& weights,
                                                             const dnnl::memory::desc& bias,
                                                             const dnnl::memory::desc& dst, dnnl::memory::dim stride,
                                                             dnnl::memory::dim pad, const dnnl::primitive_attr& attr) {
  const dnnl::memory::dims strides{stride, stride}, padding{pad, pad};
  const auto prop = dnnl::prop_kind::forward_inference;
  const bool has_bias = !bias.is_zero();
#if DNNL_VERSION_MAJOR >= 3
  return has_bias ? dnnl::convolution_forward::primitive_desc(engine, prop, algorithm, src, weights, bias, dst, strides,
                                                              padding, padding, attr)
                  : dnnl::convolution_forward::primitive_desc(engine, prop, algorithm, src, weights, dst, strides,
                                                              padding, padding, attr);
#else
  return dnnl::convolution_forward::primitive_desc(
      has_bias ? dnnl::convolution_forward::desc(prop, algorithm, src, weights, bias, dst, strides, padding, padding)
               : dnnl::convolution_forward::desc(prop, algorithm, src, weights, dst, strides, padding, padding),
      attr, engine);
#endif
}

// Average pooling over k x k windows at stride k, no padding.
inline dnnl::pooling_forward::primitive_desc avg_pool(const dnnl::engine& engine, const dnnl::memory::desc& src,
                                                      const dnnl::memory::desc& dst, dnnl::memory::dim k,
                                                      const dnnl::primitive_attr& attr) {
  const dnnl::memory::dims window{k, k}, padding{0, 0};
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto algorithm = dnnl::algorithm::pooling_avg_exclude_padding;
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::pooling_forward::primitive_desc(engine, prop, algorithm, src, dst, window, window, padding, padding,
                                               padding, attr);
#else
  return dnnl::pooling_forward::primitive_desc(
      dnnl::pooling_forward::desc(prop, algorithm, src, dst, window, window, padding, padding), attr, engine);
#endif
}

// Over the last axis, with scale and shift, in place or not (`data` describes both sides).
inline dnnl::layer_normalization_forward::primitive_desc layer_norm(const dnnl::engine& engine,
                                                                    const dnnl::memory::desc& data, float epsilon,
                                                                    const dnnl::primitive_attr& attr) {
  const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  const auto prop = dnnl::prop_kind::forward_inference;
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::layer_normalization_forward::primitive_desc(engine, prop, data, data, epsilon, flags, attr);
#else
  return dnnl::layer_normalization_forward::primitive_desc(
      dnnl::layer_normalization_forward::desc(prop, data, epsilon, flags), attr, engine);
#endif
}

// Softmax along `axis` (the max-subtracting "accurate" one: 2.x's only softmax).
inline dnnl::softmax_forward::primitive_desc softmax(const dnnl::engine& engine, const dnnl::memory::desc& data,
                                                     int axis, const dnnl::primitive_attr& attr) {
  const auto prop = dnnl::prop_kind::forward_inference;
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::softmax_forward::primitive_desc(engine, prop, dnnl::algorithm::softmax_accurate, data, data, axis, attr);
#else
  return dnnl::softmax_forward::primitive_desc(dnnl::softmax_forward::desc(prop, data, axis), attr, engine);
#endif
}

}  // namespace clip::runtime::onednn
