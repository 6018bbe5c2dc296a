// Storage for tensors, scratchpads and packed weights.
#pragma once

#include <cstddef>
#include <memory>

namespace clip::core {

// At least `bytes` of uninitialised memory, 64-byte aligned (whole cache lines, and what
// oneDNN's kernels prefer). Measured and left out: transparent huge pages for the packed
// weights made inference 2-4% faster but a cold start up to 0.5 s slower when memory was
// fragmented (the kernel compacts before it hands out a huge page).
std::shared_ptr<std::byte> allocate(std::size_t bytes);

}  // namespace clip::core
