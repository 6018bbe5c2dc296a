// The thread policy's state: the process default and each thread's current scope.
#include "core/threads.h"

#include <omp.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "clip/error.h"
#include "clip/threads.h"

namespace clip::core {

namespace {
std::atomic<int> g_default{0};  // 0: not set
thread_local int t_scope = 0;   // 0: no scope
}  // namespace

int default_threads() {
  const int set = g_default.load(std::memory_order_relaxed);
  if (set > 0) return set;
  static const int cores = std::getenv("OMP_NUM_THREADS") ? omp_get_max_threads() : available_cpus();
  return cores;
}

namespace {

// A /proc or cgroup file's text (empty when absent); at most 1 MiB. Not
// core::read_regular_file: these files report a size of 0, which it trusts.
std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text(1 << 20, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// Whether the comma-separated `list` holds `item`.
bool lists(const std::string& list, const std::string& item) {
  std::istringstream in(list);
  for (std::string part; std::getline(in, part, ',');)
    if (part == item) return true;
  return false;
}

// ceil(quota / period) CPUs; 0 for no quota ("max", -1, or unreadable).
int cpus_of(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::max(1LL, (quota + period - 1) / period));
}

// The smallest limit on `dir` and its ancestors up to `mount` (quotas nest: a child may set
// none and still be bound by its parent's).
template <class Limit>
int smallest_limit(const std::filesystem::path& mount, std::filesystem::path dir, Limit limit) {
  int best = 0;
  for (;;) {
    if (const int cpus = limit(dir); cpus > 0 && (best == 0 || cpus < best)) best = cpus;
    if (dir == mount || !dir.has_relative_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
    if (dir.string().size() < mount.string().size()) break;
  }
  return best;
}

}  // namespace

int cgroup_cpu_limit(const std::string& root) {
  const std::filesystem::path base(root);
  // Where each hierarchy is mounted: cgroup2 for v2, cgroup with the cpu option for v1.
  std::string v2_mount, v1_mount;
  std::istringstream mounts(read_text(base / "proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, mount_root, point, options, field;
    fields >> id >> parent >> dev >> mount_root >> point >> options;
    while (fields >> field && field != "-") {
    }
    std::string type, source, super_options;
    fields >> type >> source >> super_options;
    if (type == "cgroup2" && v2_mount.empty()) v2_mount = point;
    if (type == "cgroup" && v1_mount.empty() && lists(super_options, "cpu")) v1_mount = point;
  }
  std::istringstream groups(read_text(base / "proc/self/cgroup"));
  int best = 0;
  const auto consider = [&](int cpus) {
    if (cpus > 0 && (best == 0 || cpus < best)) best = cpus;
  };
  for (std::string line; std::getline(groups, line);) {
    const std::size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    const bool v2 = line.compare(0, a, "0") == 0 && controllers.empty();
    const std::string& mount = v2 ? v2_mount : v1_mount;
    if (mount.empty() || (!v2 && !lists(controllers, "cpu"))) continue;
    const std::filesystem::path top = base / std::filesystem::path(mount).relative_path();
    const auto limit = [&](const std::filesystem::path& dir) {
      if (v2) {
        std::istringstream max(read_text(dir / "cpu.max"));
        std::string quota;
        long long period = 0;
        if (!(max >> quota >> period) || quota == "max") return 0;
        return cpus_of(std::atoll(quota.c_str()), period);
      }
      const std::string quota = read_text(dir / "cpu.cfs_quota_us"), period = read_text(dir / "cpu.cfs_period_us");
      return quota.empty() || period.empty() ? 0 : cpus_of(std::atoll(quota.c_str()), std::atoll(period.c_str()));
    };
    // Inside a container the group's path may not exist under the mount (no cgroup
    // namespace): the mount itself is then the container's group.
    const std::filesystem::path dir = top / std::filesystem::path(path).relative_path();
    consider(std::filesystem::exists(dir) ? smallest_limit(top, dir, limit) : limit(top));
  }
  return best;
}

int available_cpus() {
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  if (cpus <= 0) cpus = omp_get_num_procs();
  const int quota = cgroup_cpu_limit();
  return std::max(1, quota > 0 ? std::min(cpus, quota) : cpus);
}

void set_default_threads(int threads) {
  if (threads < 1) throw Error("number of threads must be at least 1, got " + std::to_string(threads));
  g_default.store(threads, std::memory_order_relaxed);
}

int loop_threads() { return t_scope > 0 ? t_scope : default_threads(); }
int loop_threads(int otherwise) { return t_scope > 0 ? t_scope : otherwise; }

CpuLoad read_cpu_load(const std::string& root) {
  CpuLoad load;
  load.wall = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec own{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &own);
  load.own = static_cast<double>(own.tv_sec) + static_cast<double>(own.tv_nsec) * 1e-9;
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return load;
  static const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  // Read at every model call: stdio, not read_text's 1 MiB buffer.
  FILE* stat = std::fopen((std::filesystem::path(root) / "proc/stat").c_str(), "r");
  if (!stat) return load;
  char line[512];
  while (std::fgets(line, sizeof line, stat)) {
    // "cpuN user nice system idle iowait irq softirq steal ...": busy is all but idle and iowait.
    if (std::strncmp(line, "cpu", 3) != 0) break;  // the per-CPU lines come first
    if (line[3] < '0' || line[3] > '9') continue;  // the total line, "cpu  ..."
    int cpu = -1;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (std::sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &user, &nice, &system, &idle, &iowait,
                    &irq, &softirq, &steal) < 8)
      continue;
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &mask)) continue;
    load.busy += static_cast<double>(user + nice + system + irq + softirq + steal) * tick;
    ++load.cpus;
  }
  std::fclose(stat);
  return load;
}

int threads_left(int requested, const CpuLoad& before, const CpuLoad& after) {
  const double wall = after.wall - before.wall;
  if (requested <= 1 || wall <= 0 || after.cpus <= 0 || after.cpus != before.cpus) return requested;
  const double others = std::max(0.0, (after.busy - before.busy) - (after.own - before.own)) / wall;
  const double wanted = std::min(requested, after.cpus), free = after.cpus - others;
  if (free >= wanted - 0.5) return requested;
  return std::max(1, requested - static_cast<int>(std::lround(wanted - free)));
}

namespace {
// What the calls saw: the window being summed, and the last complete one.
struct CallLoad {
  std::mutex mutex;
  CpuLoad summing{0, 0, 0, 0}, decided{0, 0, 0, 0};
};
CallLoad& call_load() {
  static CallLoad load;
  return load;
}
bool adapting() {
  static const bool on = [] {
    const char* v = std::getenv("CLIP_ADAPT_THREADS");
    return !(v && std::string(v) == "0");
  }();
  return on;
}
}  // namespace

AdaptiveThreads::AdaptiveThreads(int requested) : threads_(requested), reading_(adapting() && requested > 1) {
  if (!reading_) return;
  {
    CallLoad& load = call_load();
    std::lock_guard lock(load.mutex);
    if (load.decided.cpus > 0) threads_ = threads_left(requested, CpuLoad{0, 0, 0, load.decided.cpus}, load.decided);
  }
  start_ = read_cpu_load();
}

AdaptiveThreads::~AdaptiveThreads() {
  if (!reading_) return;
  const CpuLoad end = read_cpu_load();
  if (end.cpus <= 0 || end.cpus != start_.cpus) return;
  CallLoad& load = call_load();
  std::lock_guard lock(load.mutex);
  CpuLoad& w = load.summing;
  if (w.cpus != end.cpus) w = CpuLoad{0, 0, 0, end.cpus};
  w.wall += end.wall - start_.wall;
  w.busy += end.busy - start_.busy;
  w.own += end.own - start_.own;
  if (w.wall >= 0.2) {
    load.decided = w;
    w = CpuLoad{0, 0, 0, end.cpus};
  }
}

Tensor batch_in_parts(const Tensor& batch, int parts, const std::function<Tensor(const Tensor&)>& encode) {
  const std::int64_t n = batch.size(0), row_bytes = static_cast<std::int64_t>(batch.nbytes()) / n;
  parts = static_cast<int>(std::clamp<std::int64_t>(parts, 1, n));
  std::vector<Tensor> results(static_cast<std::size_t>(parts));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(parts));
  const auto run = [&](int p) {
    const std::int64_t first = n * p / parts, last = n * (p + 1) / parts;
    try {
      const ThreadScope one(1);
      Tensor::Shape shape = batch.shape();
      shape[0] = last - first;
      results[p] = encode(
          Tensor::view(shape, batch.dtype(), nullptr, const_cast<std::byte*>(batch.raw_data()) + first * row_bytes));
    } catch (...) {
      errors[p] = std::current_exception();
    }
  };
  std::vector<std::thread> helpers;
  for (int p = 1; p < parts; ++p) helpers.emplace_back(run, p);
  run(0);
  for (std::thread& t : helpers) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  Tensor out({n, results[0].size(1)}, DType::Float32);
  float* next = out.data<float>();
  for (const Tensor& r : results) next = std::copy_n(r.data<float>(), r.numel(), next);
  return out;
}

int batch_parts(int requested, int left, std::int64_t batch) {
  if (left != 1 || requested < 2 || batch < 2) return 1;
  return static_cast<int>(std::min<std::int64_t>(requested, batch));
}

ThreadScope::ThreadScope(int threads) : previous_(t_scope) { t_scope = threads; }
ThreadScope::~ThreadScope() { t_scope = previous_; }

}  // namespace clip::core

namespace clip {
void set_num_threads(int threads) { core::set_default_threads(threads); }
int get_num_threads() { return core::default_threads(); }
}  // namespace clip
