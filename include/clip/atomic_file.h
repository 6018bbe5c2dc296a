// Writing a file so that readers never see half of it, and a failure never destroys the
// previous version: write a temporary file beside it, then rename.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>

#include "clip/export.h"

namespace clip {

// Calls `write` on a stream to a temporary file beside `path`, then renames it over
// `path`. Any failure (cannot create, disk full, rename) removes the temporary file and
// is a clip::Error naming `path`. A `path` that exists and is not a regular file (/dev/null,
// a pipe) is written directly.
CLIP_API void write_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);

}  // namespace clip
