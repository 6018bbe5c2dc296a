// The library's thread policy, in one place: how many threads its parallel loops (and
// oneDNN's, through the CPU backend) may use. A model's count while it works; otherwise
// the process default, clip::set_num_threads's value or all the cores this process may use.
#pragma once

#include <exception>
#include <string>
#include <thread>

namespace clip::core {

// The process default (clip::get_num_threads): clip::set_num_threads's value; else
// OMP_NUM_THREADS when set; else available_cpus().
int default_threads();

// The CPUs this process may use: its affinity mask, capped by the CFS quota of its cgroup
// or an ancestor (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up.
// A container limited to 1.5 CPUs gets 2 threads, not the host's 64.
int available_cpus();
// The quota part alone, read under `root` (normally "/": /proc/self/cgroup,
// /proc/self/mountinfo and the cgroup mounts); 0 when no quota applies.
int cgroup_cpu_limit(const std::string& root = "/");
void set_default_threads(int threads);  // clip::Error below 1

// The threads the library's own loops use on the calling thread: the innermost
// ThreadScope's, else default_threads().
int loop_threads();

// Sets loop_threads() for the calling thread while it lives (a model's work runs in one).
class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_;
};

// Runs `work` (the library's parallel work outside a model's calls: reading a checkpoint)
// on a thread of its own, with the caller's loop_threads(), and waits for it. libgomp keeps
// an idle OpenMP team for every thread that ever ran a parallel loop, and once it manages
// more threads than there are CPUs it stops spinning at barriers: every barrier of every
// later model call then sleeps in the kernel. A model loaded on one thread and used on
// another ran ViT-B/32 image b1 in 30.1 ms against 26.7 (2 cores; 11,000 context switches
// against 90 for 40 calls); a thread that ends takes its team with it.
template <class Work>
void on_own_thread(Work&& work) {
  std::exception_ptr error;
  std::thread([&, threads = loop_threads()] {
    const ThreadScope scope(threads);
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
}

}  // namespace clip::core
