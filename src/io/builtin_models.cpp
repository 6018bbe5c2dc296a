#include "io/builtin_models.h"

#include "clip/models.h"

// models/demo-shapes.pt, placed in the library's read-only data by the assembler (CMake
// passes its absolute path as CLIP_DEMO_SHAPES_FILE and rebuilds this file when it changes).
asm(".section .rodata\n"
    ".balign 64\n"
    ".globl clip_demo_shapes_begin\n"
    "clip_demo_shapes_begin:\n"
    ".incbin \"" CLIP_DEMO_SHAPES_FILE
    "\"\n"
    ".globl clip_demo_shapes_end\n"
    "clip_demo_shapes_end:\n"
    ".previous\n");
extern "C" const std::uint8_t clip_demo_shapes_begin[];
extern "C" const std::uint8_t clip_demo_shapes_end[];

namespace clip {

std::vector<std::string> builtin_models() { return {"demo-shapes"}; }

namespace io {

std::span<const std::uint8_t> builtin_model_bytes(const std::string& name) {
  if (name == "demo-shapes") return {clip_demo_shapes_begin, clip_demo_shapes_end};
  return {};
}

}  // namespace io
}  // namespace clip
