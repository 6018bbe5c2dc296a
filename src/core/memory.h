// Storage for tensors and packed weights.
#pragma once

#include <cstddef>
#include <memory>

namespace clip::core {

// At least `bytes` of uninitialised memory, 64-byte aligned. Blocks of several MB are
// 2 MB aligned and advised as transparent huge pages: converting and packing a model's
// weights then takes a few hundred page faults instead of a few hundred thousand.
std::shared_ptr<std::byte> allocate(std::size_t bytes);

}  // namespace clip::core
