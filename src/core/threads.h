// The library's thread policy, in one place: how many threads its parallel loops (and
// oneDNN's, through the CPU backend) may use. A model's count while it works; otherwise
// the process default, clip::set_num_threads's value or all the cores this process may use.
#pragma once

namespace clip::core {

// The process default (clip::get_num_threads).
int default_threads();
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

}  // namespace clip::core
