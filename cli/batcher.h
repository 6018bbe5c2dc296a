// Dynamic batching for `clip serve`: requests wait in a bounded queue (one per tower); one
// worker takes up to max_batch rows, or what arrived within max_wait of the first, runs
// them as one batch and hands each request its rows. Batch 8 runs ~1.5x the images/s of
// batch 1 on the 2-core development machine (bench/compare), which is what this is for.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "clip/clip.h"

namespace cli {

class Batcher {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int max_batch = 8;                      // rows per batch (a larger request runs alone)
    std::chrono::milliseconds max_wait{5};  // how long the first request waits for company
    std::size_t max_queue = 64;             // requests waiting; more are refused (QueueFull)
  };
  // Why a request got no result.
  struct QueueFull : std::runtime_error {
    QueueFull() : std::runtime_error("the queue is full") {}
  };
  struct DeadlineExceeded : std::runtime_error {
    DeadlineExceeded() : std::runtime_error("the request's deadline passed before it ran") {}
  };
  struct Stopped : std::runtime_error {
    Stopped() : std::runtime_error("the server is shutting down") {}
  };
  struct ClientGone : std::runtime_error {
    ClientGone() : std::runtime_error("the client closed the connection before its request ran") {}
  };
  // Asked every kWatch while a request waits: has its client gone?
  using Gone = std::function<bool()>;
  static constexpr std::chrono::milliseconds kWatch{20};
  // [N, ...] rows -> [N, D] results; called on the worker thread only.
  using Run = std::function<clip::Tensor(const clip::Tensor& rows)>;
  // Called after each batch with its number of rows (metrics).
  using Observe = std::function<void(int rows)>;

  Batcher(Options options, Run run, Observe observe = {})
      : options_(options), run_(std::move(run)), observe_(std::move(observe)), worker_([this] { loop(); }) {}
  ~Batcher() { stop(); }
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `rows` ([k, ...], k >= 1) and waits for its [k, D] results. Throws QueueFull at
  // once, DeadlineExceeded when the deadline passes first or ClientGone when `gone` says so
  // (the rows are then dropped if they have not started), Stopped after stop(), or what
  // Run threw for the batch.
  class Ticket;
  // `ticket`: the request's own, if it took one with expect().
  clip::Tensor submit(clip::Tensor rows, Clock::time_point deadline, Ticket* ticket = nullptr, Gone gone = {}) {
    auto pending = std::make_shared<Pending>();
    pending->rows = std::move(rows);
    pending->deadline = deadline;
    std::future<clip::Tensor> result = pending->promise.get_future();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) throw Stopped();
      if (queue_.size() >= options_.max_queue) throw QueueFull();
      pending->arrived = Clock::now();
      queue_.push_back(pending);
      if (ticket && !ticket->arrived_) {
        ticket->arrived_ = true;
        --coming_;
      }
    }
    wake_.notify_one();
    for (;;) {
      const Clock::time_point until = gone ? std::min(deadline, Clock::now() + kWatch) : deadline;
      if (result.wait_until(until) == std::future_status::ready) break;
      const bool late = Clock::now() >= deadline;
      if (!late && !gone()) continue;
      std::lock_guard lock(mutex_);
      pending->abandoned = true;  // the worker drops it unless it is already running
      if (pending->started) break;
      if (late) throw DeadlineExceeded();
      throw ClientGone();
    }
    return result.get();
  }

  // A request on its way (being decoded or tokenized on a connection thread), for as long
  // as the ticket lives. The first request of a batch waits for company only while some are
  // on their way: a lone request runs at once (bench/serve_load, one connection: p50 40 ms
  // against 28 ms for the engine alone when it always waited max_wait).
  class Ticket {
   public:
    explicit Ticket(Batcher& b) : b_(&b) {
      std::lock_guard lock(b_->mutex_);
      ++b_->coming_;
    }
    ~Ticket() {
      {
        std::lock_guard lock(b_->mutex_);
        if (!arrived_) --b_->coming_;
      }
      b_->wake_.notify_all();
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    friend class Batcher;
    Batcher* b_;
    bool arrived_ = false;  // under the batcher's mutex: submitted, no longer on its way
  };
  Ticket expect() { return Ticket(*this); }

  std::size_t depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  bool full() const {
    std::lock_guard lock(mutex_);
    return queue_.size() >= options_.max_queue;
  }

  // Refuses new requests, finishes the queued ones, joins the worker.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

 private:
  struct Pending {
    clip::Tensor rows;
    Clock::time_point arrived, deadline;
    std::promise<clip::Tensor> promise;
    bool started = false, abandoned = false;  // under mutex_
  };

  void loop() {
    for (;;) {
      std::vector<std::shared_ptr<Pending>> batch;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left
        // Wait for company until max_wait after the first arrival or a full batch, while
        // requests are on their way.
        const Clock::time_point until = queue_.front()->arrived + options_.max_wait;
        wake_.wait_until(lock, until, [&] { return stopping_ || coming_ == 0 || queued_rows() >= options_.max_batch; });
        std::int64_t rows = 0;
        while (!queue_.empty()) {
          std::shared_ptr<Pending>& next = queue_.front();
          if (next->abandoned || Clock::now() > next->deadline) {  // its client gave up: drop it
            next->promise.set_exception(std::make_exception_ptr(DeadlineExceeded()));
            queue_.pop_front();
            continue;
          }
          const std::int64_t k = next->rows.size(0);
          if (!batch.empty() && rows + k > options_.max_batch) break;
          next->started = true;
          rows += k;
          batch.push_back(std::move(next));
          queue_.pop_front();
        }
      }
      if (!batch.empty()) run_batch(batch);
    }
  }

  std::int64_t queued_rows() const {
    std::int64_t rows = 0;
    for (const auto& p : queue_) rows += p->rows.size(0);
    return rows;
  }

  void run_batch(const std::vector<std::shared_ptr<Pending>>& batch) {
    std::vector<clip::Tensor> results;
    try {
      clip::Tensor::Shape shape = batch.front()->rows.shape();
      shape[0] = 0;
      for (const auto& p : batch) shape[0] += p->rows.size(0);
      clip::Tensor rows(shape, batch.front()->rows.dtype());
      std::size_t offset = 0;
      for (const auto& p : batch) {
        std::memcpy(rows.raw_data() + offset, p->rows.raw_data(), p->rows.nbytes());
        offset += p->rows.nbytes();
      }
      const clip::Tensor out = run_(rows);
      if (observe_) observe_(static_cast<int>(shape[0]));
      offset = 0;
      for (const auto& p : batch) {
        clip::Tensor mine({p->rows.size(0), out.size(1)}, out.dtype());
        std::memcpy(mine.raw_data(), out.raw_data() + offset, mine.nbytes());
        offset += mine.nbytes();
        results.push_back(std::move(mine));
      }
    } catch (...) {
      for (const auto& p : batch) p->promise.set_exception(std::current_exception());
      return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->promise.set_value(std::move(results[i]));
  }

  const Options options_;
  const Run run_;
  const Observe observe_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stopping_ = false;
  int coming_ = 0;      // live Tickets
  std::thread worker_;  // last: starts once the rest is ready
};

}  // namespace cli
