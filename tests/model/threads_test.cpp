// The thread policy: clip::set_num_threads bounds loading, whose threads end with it; a
// model's count bounds its first calls (the float16 conversions included), and each is
// used when asked for; the default follows the CPUs the process may use (affinity, cgroup
// CPU quota); a batch in parts (the model's way beside a busy neighbour) keeps its rows.
#include <gtest/gtest.h>

#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "clip/checkpoint.h"
#include "clip/error.h"
#include "clip/threads.h"
#include "core/threads.h"
#include "test_data.h"

namespace {

// The OpenMP runtime the library's own loops run on: GCC's libgomp (the release build)
// keeps a team for every thread that ran a parallel loop; LLVM's libomp (clang's -fopenmp,
// the sanitizer builds, where oneDNN still brings libgomp) keeps one pool of workers for
// the whole process, and they stay when their thread ends.
bool libgomp() {
  std::ifstream maps("/proc/self/maps");
  bool gomp = false;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/libomp") != std::string::npos) return false;
    gomp = gomp || line.find("/libgomp") != std::string::npos;
  }
  return gomp;
}

int threads_used(const std::filesystem::path& dir, int process_threads, int model_threads) {
  // Fixed counts: what is asked for, whatever else runs beside the test.
  const std::string cmd = "CLIP_ADAPT_THREADS=0 " + std::string(CLIP_THREAD_PROBE_PATH) + " " +
                          (dir / "model.pt").string() + " " + (dir / "images.f32.npy").string() + " " +
                          (dir / "tokens.i32.npy").string() + " " + std::to_string(process_threads) + " " +
                          std::to_string(model_threads);
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
  // Loading's threads end with it (LoadingLeavesNoOpenMPTeamBehind); libomp's pool stays.
  EXPECT_EQ(threads_used(dir, 3, 1), libgomp() ? 1 : 3);
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
  if (!libgomp()) {  // libomp's pool stays, and a second load reuses it
    clip::set_num_threads(2);
    EXPECT_FALSE(clip::Checkpoint::load(dir / "model.pt").keys().empty());
    clip::set_num_threads(process_threads);
    EXPECT_EQ(threads_of_this_process(), after);
    return;
  }
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

// A core another process holds is a thread fewer; a busy host with CPUs to spare, or a
// process alone, keeps what it asked for.
TEST(Threads, FewerThreadsWhileOtherProcessesHoldTheCpus) {
  using clip::core::CpuLoad;
  using clip::core::threads_left;
  const CpuLoad start{0, 0, 0, 2};
  EXPECT_EQ(threads_left(2, start, CpuLoad{1, 2.0, 1.33, 2}), 1);  // `yes` beside 2 threads: 0.67 CPU
  EXPECT_EQ(threads_left(2, start, CpuLoad{1, 2.0, 1.0, 2}), 1);   // ... and beside 1 thread: 1 CPU
  EXPECT_EQ(threads_left(2, start, CpuLoad{1, 2.0, 1.9, 2}), 2);   // daemons: 0.1 CPU
  EXPECT_EQ(threads_left(2, start, CpuLoad{1, 0.5, 0.5, 2}), 2);   // alone
  EXPECT_EQ(threads_left(3, start, CpuLoad{1, 2.0, 2.0, 2}), 3);   // oversubscribed on purpose, alone
  EXPECT_EQ(threads_left(3, start, CpuLoad{1, 2.0, 1.0, 2}), 2);
  const CpuLoad host{0, 0, 0, 64};  // 40 of 64 CPUs busy with others
  EXPECT_EQ(threads_left(2, host, CpuLoad{1, 41.0, 1.0, 64}), 2);
  EXPECT_EQ(threads_left(64, host, CpuLoad{1, 41.0, 1.0, 64}), 24);
  EXPECT_EQ(threads_left(4, CpuLoad{0, 0, 0, 4}, CpuLoad{1, 4.0, 0.0, 4}), 1);  // never below 1
  EXPECT_EQ(threads_left(2, start, CpuLoad{1, 2.0, 1.0, 3}), 2);                // the mask changed: no reading
  EXPECT_EQ(threads_left(2, start, start), 2);                                  // no time passed
}

// Each part runs on a thread of its own with one loop thread, and the results come back as
// the rows of the whole batch, in order, also where the rows do not divide evenly; an
// error in any part reaches the caller.
TEST(Threads, BatchInPartsKeepsTheRowsInOrder) {
  clip::Tensor batch({5, 2}, clip::DType::Float32);
  for (std::int64_t i = 0; i < batch.numel(); ++i) batch.data<float>()[i] = static_cast<float>(i);
  for (const int parts : {1, 2, 3, 5, 8}) {
    std::mutex mutex;
    std::set<std::thread::id> threads;
    std::int64_t rows = 0;
    const clip::Tensor out = clip::core::batch_in_parts(batch, parts, [&](const clip::Tensor& x) {
      {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
        rows += x.size(0);
        EXPECT_EQ(clip::core::loop_threads(), 1);
      }
      clip::Tensor y({x.size(0), 3}, clip::DType::Float32);  // row r -> (a + b, a - b, 2a)
      for (std::int64_t r = 0; r < x.size(0); ++r) {
        const float a = x.data<float>()[2 * r], b = x.data<float>()[2 * r + 1];
        y.data<float>()[3 * r] = a + b;
        y.data<float>()[3 * r + 1] = a - b;
        y.data<float>()[3 * r + 2] = 2 * a;
      }
      return y;
    });
    ASSERT_EQ(out.shape(), (clip::Tensor::Shape{5, 3})) << parts << " parts";
    for (std::int64_t r = 0; r < 5; ++r) {
      const float a = static_cast<float>(2 * r), b = a + 1;
      EXPECT_EQ(out.data<float>()[3 * r], a + b) << parts << " parts, row " << r;
      EXPECT_EQ(out.data<float>()[3 * r + 1], a - b) << parts << " parts, row " << r;
      EXPECT_EQ(out.data<float>()[3 * r + 2], 2 * a) << parts << " parts, row " << r;
    }
    EXPECT_EQ(rows, 5) << parts << " parts";
    EXPECT_EQ(threads.size(), static_cast<std::size_t>(std::min(parts, 5))) << parts << " parts";
  }
  EXPECT_THROW(clip::core::batch_in_parts(batch, 3,
                                          [](const clip::Tensor& x) -> clip::Tensor {
                                            if (x.data<float>()[0] > 3) throw clip::Error("a later part failed");
                                            return x.clone();
                                          }),
               clip::Error);
}

// Parts only where a single thread of several was left, one per thread asked for, never
// more than the images.
TEST(Threads, BatchPartsOnlyWhereOneThreadIsLeft) {
  using clip::core::batch_parts;
  EXPECT_EQ(batch_parts(2, 1, 8), 2);    // 2 cores, one taken by another process
  EXPECT_EQ(batch_parts(4, 1, 3), 3);    // one part per image at most
  EXPECT_EQ(batch_parts(2, 2, 8), 1);    // quiet
  EXPECT_EQ(batch_parts(2, 1, 1), 1);    // one image
  EXPECT_EQ(batch_parts(1, 1, 8), 1);    // one thread asked for
  EXPECT_EQ(batch_parts(64, 24, 8), 1);  // a busy host with CPUs to spare: the call's own threads
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

// /proc/stat's per-CPU lines, for the CPUs of this process's mask only; busy is all but
// idle and iowait, steal included.
TEST(Threads, CpuLoadReadsProcStat) {
  const std::filesystem::path root = std::filesystem::temp_directory_path() / "clip_proc_stat_root";
  std::filesystem::remove_all(root);
  std::string stat = "cpu  1 2 3 4 5 6 7 8 9 10\n";
  for (int cpu = 0; cpu < 1024; ++cpu)  // user nice system idle iowait irq softirq steal guest guest_nice
    stat += "cpu" + std::to_string(cpu) + " 100 0 50 1000 7 1 2 10 0 0\n";
  stat += "intr 12345 0 0\nctxt 999\n";
  write(root / "proc/stat", stat);
  const clip::core::CpuLoad load = clip::core::read_cpu_load(root.string());
  cpu_set_t mask;
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  EXPECT_EQ(load.cpus, CPU_COUNT(&mask));
  EXPECT_NEAR(load.busy, load.cpus * 163.0 / static_cast<double>(sysconf(_SC_CLK_TCK)), 1e-9);
  EXPECT_GT(load.own, 0.0);  // this process's CPU time so far
  std::filesystem::remove_all(root);
  EXPECT_EQ(clip::core::read_cpu_load(root.string()).cpus, 0);  // no file: no reading
}

}  // namespace
