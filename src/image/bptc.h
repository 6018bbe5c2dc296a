// BC6H and BC7 (BPTC) blocks of a DDS file, decoded as Pillow 9.4's BcnDecode.c decodes them.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace clip::image {

using Rgba = std::array<std::uint8_t, 4>;
using Block = std::array<Rgba, 16>;  // 4x4 pixels, row by row
using BlockBytes = std::span<const std::uint8_t, 16>;

// decode_bc7_block: RGBA. Pillow reads a block whose first byte is zero (no mode) as opaque
// black.
void decode_bc7_block(BlockBytes src, Block& out);

// decode_bc6_block: RGB (the fourth byte of each pixel is left as it was), `is_signed` for
// BC6H_SF16. Half floats become bytes as Pillow makes them: clamped to [0, 1], times 255,
// truncated (no tone mapping); reserved modes are black.
void decode_bc6h_block(BlockBytes src, bool is_signed, Block& out);

}  // namespace clip::image
