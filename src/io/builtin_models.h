// The checkpoints compiled into the library (models/*.pt, embedded at build time).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace clip::io {

// The bytes of the built-in checkpoint `name`; empty when there is none of that name.
std::span<const std::uint8_t> builtin_model_bytes(const std::string& name);

}  // namespace clip::io
