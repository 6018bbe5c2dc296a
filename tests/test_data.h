// Locating ../shared, the golden data made with the Python reference.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace clip::test {

// The shared data folder, or an empty path when it is not there. Set
// CLIP_REQUIRE_SHARED=1 (CI does) to turn a missing folder into a failure.
std::filesystem::path shared_dir();

}  // namespace clip::test

// Skips the test with a clear SKIPPED line (or fails, under CLIP_REQUIRE_SHARED) unless
// `path` (relative to ../shared) exists; yields the absolute path.
#define CLIP_REQUIRE_SHARED_FILE(var, relative)                                            \
  const std::filesystem::path var = ::clip::test::shared_dir() / (relative);               \
  if (::clip::test::shared_dir().empty() || !std::filesystem::exists(var)) {               \
    if (std::getenv("CLIP_REQUIRE_SHARED")) FAIL() << "missing test data: " << (relative); \
    GTEST_SKIP() << "SKIPPED: test data not found: ../shared/" << (relative);              \
  }
