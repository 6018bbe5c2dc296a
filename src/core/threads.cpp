// The thread policy's state: the process default and each thread's current scope.
#include "core/threads.h"

#include <omp.h>

#include <atomic>
#include <string>

#include "clip/error.h"
#include "clip/threads.h"

namespace clip::core {

namespace {
std::atomic<int> g_default{0};  // 0: not set
thread_local int t_scope = 0;   // 0: no scope
}  // namespace

// OpenMP's count: OMP_NUM_THREADS when set, else the CPUs in this process's affinity mask
// (libgomp reads the mask at start-up).
int default_threads() {
  const int set = g_default.load(std::memory_order_relaxed);
  if (set > 0) return set;
  static const int cores = omp_get_max_threads();
  return cores;
}

void set_default_threads(int threads) {
  if (threads < 1) throw Error("number of threads must be at least 1, got " + std::to_string(threads));
  g_default.store(threads, std::memory_order_relaxed);
}

int loop_threads() { return t_scope > 0 ? t_scope : default_threads(); }

ThreadScope::ThreadScope(int threads) : previous_(t_scope) { t_scope = threads; }
ThreadScope::~ThreadScope() { t_scope = previous_; }

}  // namespace clip::core

namespace clip {
void set_num_threads(int threads) { core::set_default_threads(threads); }
int get_num_threads() { return core::default_threads(); }
}  // namespace clip
