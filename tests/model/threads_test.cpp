// The thread policy: clip::set_num_threads bounds loading, a model's count bounds its
// first calls (the float16 conversions included), and each is used when asked for.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "clip/error.h"
#include "clip/threads.h"
#include "test_data.h"

namespace {

int threads_used(const std::filesystem::path& dir, int process_threads, int model_threads) {
  const std::string cmd = std::string(CLIP_THREAD_PROBE_PATH) + " " + (dir / "model.pt").string() + " " +
                          (dir / "images.f32.npy").string() + " " + (dir / "tokens.i32.npy").string() + " " +
                          std::to_string(process_threads) + " " + std::to_string(model_threads);
  FILE* pipe = popen(cmd.c_str(), "r");
  int threads = -1;
  if (pipe && std::fscanf(pipe, "%d", &threads) != 1) threads = -1;
  if (pipe) pclose(pipe);
  return threads;
}

TEST(Threads, OneThreadMeansOneThreadFromTheFirstCall) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  EXPECT_EQ(threads_used(dir, 1, 1), 1);
  // The control: the probe sees threads when they are allowed.
  EXPECT_GE(threads_used(dir, 1, 3), 3);
  EXPECT_GE(threads_used(dir, 3, 1), 3);
}

TEST(Threads, ProcessDefault) {
  const int before = clip::get_num_threads();
  EXPECT_GE(before, 1);
  clip::set_num_threads(3);
  EXPECT_EQ(clip::get_num_threads(), 3);
  clip::set_num_threads(before);
  EXPECT_THROW(clip::set_num_threads(0), clip::Error);
}

}  // namespace
