// The one thread on which `clip serve` runs the model, whichever tower and connection a
// request came from. libgomp keeps an idle OpenMP team for every thread that ever ran a
// parallel loop and, once it manages more threads than there are CPUs, stops spinning at
// barriers: with a batcher thread per tower (and classify's labels embedded on connection
// threads) every barrier slept in the kernel, and an image request took 32.1 ms of model
// time against 27.5 for the engine alone (bench/serve_load's model, 2 cores).
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>

namespace cli {

class EngineThread {
 public:
  EngineThread() : thread_([this] { loop(); }) {}
  ~EngineThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  EngineThread(const EngineThread&) = delete;
  EngineThread& operator=(const EngineThread&) = delete;

  // Runs `work` on the engine thread, after what was handed over before it; returns its
  // result or throws what it threw.
  template <class Work>
  auto call(Work work) -> std::invoke_result_t<Work> {
    std::packaged_task<std::invoke_result_t<Work>()> task(std::move(work));
    auto result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.emplace_back([&task] { task(); });
    }
    wake_.notify_one();
    return result.get();
  }

 private:
  void loop() {
    pthread_setname_np(pthread_self(), "clip-engine");  // as top -H and gdb show it
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace cli
