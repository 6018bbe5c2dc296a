// clip::Error: the one exception type the library throws for bad input or failed I/O.
#pragma once

#include <stdexcept>
#include <string>

#include "clip/export.h"

namespace clip {

class CLIP_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace clip
