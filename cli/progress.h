// A progress line on stderr for long work (clip embed, clip index build).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

namespace cli {

// "embed 120/1000  45.1 images/s  ETA 19 s" on stderr, redrawn in place, only on a
// terminal. Without a total (tar shards are counted as they are read): "embed 120".
class Progress {
 public:
  Progress(std::string what, std::string unit, std::size_t total)
      : what_(std::move(what)), unit_(std::move(unit)), total_(total), enabled_(isatty(STDERR_FILENO)) {}
  ~Progress() {
    if (enabled_ && drawn_) std::fputc('\n', stderr);
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(std::size_t done) {
    if (!enabled_) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? (done - first_) / seconds : 0;
    if (total_ > 0) {
      const double eta = rate > 0 ? (total_ - done) / rate : 0;
      std::fprintf(stderr, "\r%s %zu/%zu  %.1f %s/s  ETA %.0f s   ", what_.c_str(), done, total_, rate, unit_.c_str(),
                   eta);
    } else {
      std::fprintf(stderr, "\r%s %zu  %.1f %s/s   ", what_.c_str(), done, rate, unit_.c_str());
    }
    drawn_ = true;
  }
  // Items finished before this run (resumed parts): not counted in the rate.
  void resumed(std::size_t done) { first_ = done; }

 private:
  std::string what_, unit_;
  std::size_t total_, first_ = 0;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace cli
