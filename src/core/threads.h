// The library's thread policy, in one place: how many threads its parallel loops (and
// oneDNN's, through the CPU backend) may use. A model's count while it works; otherwise
// the process default, clip::set_num_threads's value or all the cores this process may use.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <thread>

#include "clip/tensor.h"

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
// The innermost ThreadScope's count, else `otherwise` (a backend's own setting).
int loop_threads(int otherwise);

// How busy this process's CPUs are: a reading of /proc/stat (under `root`) for the CPUs of
// its affinity mask, and of its own CPU time.
struct CpuLoad {
  double wall = 0;  // seconds, steady clock
  double busy = 0;  // CPU-seconds those CPUs were busy (anyone; steal included), since boot
  double own = 0;   // CPU-seconds this process used, since it started
  int cpus = 0;     // CPUs in the mask found in the file
};
CpuLoad read_cpu_load(const std::string& root = "/");

// `requested` threads, fewer by the CPUs other processes kept busy between two readings:
// two OpenMP threads that meet at every barrier on a machine where another process holds
// one of the two cores wait a scheduler slice per barrier (ViT-B/32 image b1 ~55 -> ~215
// ms); one thread there runs at one core's speed. Unchanged while the others leave at
// least min(requested, cpus) - 0.5 CPUs free, and never below 1.
int threads_left(int requested, const CpuLoad& before, const CpuLoad& after);

// A model call's threads: `requested`, fewer by the CPUs other processes kept busy while
// this process's recent calls ran. The load is read as a call starts and ends (only then:
// a benchmark's other peers, running between our calls, are not contention) and summed
// over calls until 200 ms are seen (/proc/stat counts in 10 ms ticks); that window decides
// the calls after it. `requested` itself when CLIP_ADAPT_THREADS=0 (fixed counts, for tests
// and measurements) and until a first window exists.
class AdaptiveThreads {
 public:
  explicit AdaptiveThreads(int requested);
  ~AdaptiveThreads();
  AdaptiveThreads(const AdaptiveThreads&) = delete;
  AdaptiveThreads& operator=(const AdaptiveThreads&) = delete;
  int threads() const { return threads_; }

 private:
  int threads_;
  bool reading_;
  CpuLoad start_;
};

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

// A batch (rows along the first dimension) as `parts` parts side by side, each on a thread
// of its own (the first on the caller's) with one loop thread: `encode` maps a part's rows
// to as many rows of float32 results, returned in order. Parts meet at no barrier, so a part
// whose core another process takes delays only itself, where the threads of one oneDNN call
// wait for each other at every layer. An exception from any part is rethrown after all end.
Tensor batch_in_parts(const Tensor& batch, int parts, const std::function<Tensor(const Tensor&)>& encode);
// How many such parts a model call of `batch` images uses when it asked for `requested`
// threads and the load left `left` (AdaptiveThreads): `requested` parts (at most one per
// image) where a single thread was left, else 1 (no parts: the call runs on its `left`
// threads). Measured only there: on 2 cores with one taken by another process, parts beat
// the one thread left (ViT-B/32 batch 8: 308 against 379 ms); with more threads left, a
// call's own threads also share each image's work, which parts would give up.
int batch_parts(int requested, int left, std::int64_t batch);

}  // namespace clip::core
