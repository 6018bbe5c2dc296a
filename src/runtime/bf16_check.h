// Whether bfloat16 matmuls pay on this CPU. oneDNN 2.6's bf16 matmul on an Intel Xeon with
// AVX-512 BF16 but no AMX ran at 115-143 GFLOP/s against 200-230 in fp32 (issue #22), so
// `--precision bf16` was the slow one there, while on Zen 4 it is about twice as fast: a
// precision meant to be the fast one must not be the slow one.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace clip::runtime {

// Decided once per process, on the first bf16 matrix product, by $CLIP_BF16: "on" (always
// bf16), "off" (bf16 requests run in fp32), or "auto" / unset: one ViT-sized product
// (128 x 768 x 768) timed both ways on one thread, interleaved, best of 5 (~15 ms); bf16 is
// used when it is at least 1.25x as fast, since its activations also cost a conversion. Otherwise the model
// runs in fp32 (more exact, and faster there) and one line on stderr says so. A CPU without
// bf16 matmuls at all answers true: the product itself then fails with its clear error.
bool bf16_pays(const dnnl::engine& engine);

}  // namespace clip::runtime
