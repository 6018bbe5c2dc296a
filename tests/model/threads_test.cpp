// The thread policy: clip::set_num_threads bounds loading, whose threads end with it; a
// model's count bounds its first calls (the float16 conversions included), and each is
// used when asked for; the default follows the CPUs the process may use (affinity, cgroup
// CPU quota).
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "clip/checkpoint.h"
#include "clip/error.h"
#include "clip/threads.h"
#include "core/threads.h"
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
  // Loading's threads end with it (LoadingLeavesNoOpenMPTeamBehind).
  EXPECT_EQ(threads_used(dir, 3, 1), 1);
}

int threads_of_this_process() {
  int n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Reading a checkpoint runs its parallel checks on a thread that ends with them: the idle
// OpenMP team they would leave on the caller's thread makes libgomp stop spinning at
// barriers when the model then runs on another thread (core::on_own_thread).
TEST(Threads, LoadingLeavesNoOpenMPTeamBehind) {
  CLIP_REQUIRE_SHARED_FILE(dir, "fixtures/models/vit-b32-tiny");
  const int before = threads_of_this_process(), process_threads = clip::get_num_threads();
  clip::set_num_threads(2);
  const clip::Checkpoint checkpoint = clip::Checkpoint::load(dir / "model.pt");
  clip::set_num_threads(process_threads);
  EXPECT_FALSE(checkpoint.keys().empty());
  int after = threads_of_this_process();
  for (int i = 0; i < 200 && after > before; ++i) {  // the team's threads end as their master does
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = threads_of_this_process();
  }
  EXPECT_EQ(after, before);
}

// The thread it runs on has the caller's count, and the caller gets its errors.
TEST(Threads, OwnThreadKeepsTheCallersCountAndErrors) {
  const clip::core::ThreadScope scope(3);
  int seen = 0;
  std::thread::id where;
  clip::core::on_own_thread([&] {
    seen = clip::core::loop_threads();
    where = std::this_thread::get_id();
  });
  EXPECT_EQ(seen, 3);
  EXPECT_NE(where, std::this_thread::get_id());
  EXPECT_THROW(clip::core::on_own_thread([] { throw clip::Error("reported"); }), clip::Error);
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

namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A CFS quota on the process's cgroup or an ancestor caps the default, v1 and v2, read from
// a made-up /proc and /sys under a temporary root.
TEST(Threads, CgroupQuotaFromProcAndSys) {
  const std::filesystem::path root = std::filesystem::temp_directory_path() / "clip_cgroup_root";
  std::filesystem::remove_all(root);
  write(root / "proc/self/mountinfo",
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
        "40 30 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  write(root / "proc/self/cgroup", "2:cpuacct:/\n1:cpu:/a/b\n0::/x/y\n");
  EXPECT_EQ(clip::core::cgroup_cpu_limit(root.string()), 0);         // no quota files: no limit
  write(root / "sys/fs/cgroup/cpu/a/cpu.cfs_quota_us", "250000\n");  // the parent's quota binds the child
  write(root / "sys/fs/cgroup/cpu/a/cpu.cfs_period_us", "100000\n");
  write(root / "sys/fs/cgroup/cpu/a/b/cpu.cfs_quota_us", "-1\n");
  write(root / "sys/fs/cgroup/cpu/a/b/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(clip::core::cgroup_cpu_limit(root.string()), 3);  // 2.5 CPUs, rounded up
  write(root / "sys/fs/cgroup/unified/x/y/cpu.max", "max 100000\n");
  EXPECT_EQ(clip::core::cgroup_cpu_limit(root.string()), 3);
  write(root / "sys/fs/cgroup/unified/x/y/cpu.max", "150000 100000\n");
  EXPECT_EQ(clip::core::cgroup_cpu_limit(root.string()), 2);  // the smallest limit wins
  // In a container without a cgroup namespace the group's path is the host's; the mount is
  // the container's own group.
  write(root / "proc/self/cgroup", "0::/host/path/not/here\n");
  write(root / "sys/fs/cgroup/unified/cpu.max", "50000 100000\n");
  EXPECT_EQ(clip::core::cgroup_cpu_limit(root.string()), 1);
  std::filesystem::remove_all(root);
}

// The same on this machine's real cgroups, where a group can be made (root, cgroup v1 cpu
// controller, as on the CI machine): a process in a group limited to half a CPU defaults
// to one thread.
TEST(Threads, RealCgroupQuotaGivesTheDefault) {
  const int cores = clip::core::available_cpus();
  EXPECT_GE(cores, 1);
  const std::filesystem::path group = "/sys/fs/cgroup/cpu/clip-test-" + std::to_string(getpid());
  std::error_code error;
  if (!std::filesystem::create_directory(group, error)) {
    // No writable cgroup v1 cpu controller here: the made-up tree above is the test.
    EXPECT_EQ(clip::core::cgroup_cpu_limit("/nonexistent-root"), 0);
    return;
  }
  std::ofstream(group / "cpu.cfs_quota_us") << "50000\n";
  const std::string cmd =
      "sh -c 'echo $$ > " + (group / "cgroup.procs").string() + " && exec " + CLIP_THREAD_PROBE_PATH + " --default'";
  FILE* pipe = popen(cmd.c_str(), "r");
  int threads = -1;
  if (pipe && std::fscanf(pipe, "%d", &threads) != 1) threads = -1;
  if (pipe) pclose(pipe);
  std::filesystem::remove(group, error);
  EXPECT_EQ(threads, 1);
}

}  // namespace
