// Storage for tensors, scratchpads and packed weights.
#pragma once

#include <cstddef>
#include <memory>

namespace clip::core {

// At least `bytes` of uninitialised memory, 64-byte aligned (whole cache lines, and what
// oneDNN's kernels prefer).
std::shared_ptr<std::byte> allocate(std::size_t bytes);

// The same, for weights kept as long as their model (packed copies): carved out of 32 MB
// blocks, 2 MB aligned and advised as transparent huge pages. On this VM a page that has
// not been touched for a few seconds costs ~0.3 us at its next touch (no page fault; one
// byte per page of a 352 MB buffer, 3 s after its last use, during bench/compare: 11-53 ms
// in 4 KB pages, 2.5-13 ms in 2 MB pages), so a model's first call after other programs'
// work ran up to 2x slower than the same call repeated. Old and new build side by side in
// bench/compare (medians of 4 rounds), the first call of a round: ViT-B/32 batch 1 61.8 ->
// 34.6 ms quiet and 105.9 -> 62.0 beside a busy neighbour, RN50 44.1 -> 34.4 and 87.9 ->
// 61.8; repeated calls unchanged. Packed copies are made on a weight's second use, so a
// cold start never waits for the kernel to find huge pages (an earlier version advised
// every large tensor, those converted at load too, and a cold start on fragmented memory
// took up to 0.5 s longer). The second call got faster too: ViT-B/32 645-979 -> 88-699 ms,
// also with 19-21 GB touched in 4 KB pages and every other page freed (this kernel still
// kept 1-2 GB of 2 MB blocks free by compacting; worse fragmentation was not tried).
std::shared_ptr<std::byte> allocate_lasting(std::size_t bytes);

}  // namespace clip::core
