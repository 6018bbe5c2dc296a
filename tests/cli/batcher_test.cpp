// cli::Batcher, the dynamic batching of `clip serve`, with a stand-in model: batch sizes,
// the wait for company, the bounded queue, deadlines and the draining stop.
#include "batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Rows [k, 1] holding ids -> [k, 2] holding (id, batch size), after `delay`.
struct FakeModel {
  std::chrono::milliseconds delay{0};
  std::mutex mutex;
  std::vector<int> batches;
  clip::Tensor operator()(const clip::Tensor& rows) {
    std::this_thread::sleep_for(delay);
    {
      std::lock_guard lock(mutex);
      batches.push_back(static_cast<int>(rows.size(0)));
    }
    clip::Tensor out({rows.size(0), 2}, clip::DType::Float32);
    for (std::int64_t i = 0; i < rows.size(0); ++i) {
      out.data<float>()[2 * i] = rows.data<float>()[i];
      out.data<float>()[2 * i + 1] = static_cast<float>(rows.size(0));
    }
    return out;
  }
};

// Batches of one, run as soon as they come: the tests of queueing, deadlines and stop.
cli::Batcher::Options one_at_a_time() {
  cli::Batcher::Options options;
  options.max_batch = 1;
  options.max_wait = 0ms;
  return options;
}

clip::Tensor rows(std::initializer_list<float> ids) {
  return clip::Tensor::from_vector<float>({static_cast<std::int64_t>(ids.size()), 1}, ids);
}

TEST(Batcher, ConcurrentRequestsShareBatchesAndGetTheirOwnRows) {
  FakeModel model;
  cli::Batcher::Options options;
  options.max_batch = 4;
  options.max_wait = 200ms;
  cli::Batcher batcher(options, [&](const clip::Tensor& x) { return model(x); });
  std::deque<cli::Batcher::Ticket> tickets;  // 8 requests on their way (being decoded)
  for (int i = 0; i < 8; ++i) tickets.emplace_back(batcher);
  std::vector<std::future<clip::Tensor>> results;
  for (int i = 0; i < 8; ++i)
    results.push_back(std::async(std::launch::async, [&, i] {
      return batcher.submit(rows({float(i)}), cli::Batcher::Clock::now() + 10s, &tickets[static_cast<std::size_t>(i)]);
    }));
  for (int i = 0; i < 8; ++i) {
    const clip::Tensor out = results[static_cast<std::size_t>(i)].get();
    ASSERT_EQ(out.shape(), (clip::Tensor::Shape{1, 2}));
    EXPECT_EQ(out.data<float>()[0], float(i));  // its own row
  }
  EXPECT_LT(model.batches.size(), 8u);
  for (int b : model.batches) EXPECT_LE(b, 4);
  // A request larger than max_batch runs alone, whole.
  const clip::Tensor big = batcher.submit(rows({1, 2, 3, 4, 5, 6}), cli::Batcher::Clock::now() + 10s);
  EXPECT_EQ(big.size(0), 6);
  EXPECT_EQ(big.data<float>()[1], 6.0f);
}

TEST(Batcher, ALoneRequestRunsAtOnceAndWaitsOnlyForRequestsOnTheirWay) {
  FakeModel model;
  cli::Batcher::Options options;
  options.max_wait = 300ms;
  cli::Batcher batcher(options, [&](const clip::Tensor& x) { return model(x); });
  auto start = cli::Batcher::Clock::now();
  batcher.submit(rows({7}), start + 10s);
  EXPECT_LT(cli::Batcher::Clock::now() - start, 200ms);  // nothing on its way: no wait
  {
    auto coming = batcher.expect();  // another request being decoded
    start = cli::Batcher::Clock::now();
    auto first = std::async(std::launch::async, [&] { return batcher.submit(rows({1}), start + 10s); });
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(first.wait_for(0ms), std::future_status::timeout);  // waiting for it
    const clip::Tensor second = batcher.submit(rows({2}), start + 10s, &coming);
    EXPECT_EQ(first.get().data<float>()[1], 2.0f);  // one batch of two
    EXPECT_EQ(second.data<float>()[1], 2.0f);
  }
  {
    auto vanished = batcher.expect();  // a request that never comes: max_wait, then alone
    start = cli::Batcher::Clock::now();
    batcher.submit(rows({3}), start + 10s);
    const auto waited = cli::Batcher::Clock::now() - start;
    EXPECT_GE(waited, 300ms);
    EXPECT_LT(waited, 3s);
  }
}

TEST(Batcher, AFullQueueRefusesAtOnceAndRecovers) {
  FakeModel model;
  model.delay = 800ms;
  cli::Batcher::Options options = one_at_a_time();
  options.max_queue = 1;
  cli::Batcher batcher(options, [&](const clip::Tensor& x) { return model(x); });
  auto running =
      std::async(std::launch::async, [&] { return batcher.submit(rows({1}), cli::Batcher::Clock::now() + 10s); });
  std::this_thread::sleep_for(200ms);  // the first is running, the queue is empty
  auto queued =
      std::async(std::launch::async, [&] { return batcher.submit(rows({2}), cli::Batcher::Clock::now() + 10s); });
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(batcher.full());
  const auto start = cli::Batcher::Clock::now();
  EXPECT_THROW(batcher.submit(rows({3}), start + 10s), cli::Batcher::QueueFull);
  EXPECT_LT(cli::Batcher::Clock::now() - start, 200ms);  // refused, not queued
  EXPECT_EQ(running.get().data<float>()[0], 1.0f);
  EXPECT_EQ(queued.get().data<float>()[0], 2.0f);
  EXPECT_EQ(batcher.submit(rows({4}), cli::Batcher::Clock::now() + 10s).data<float>()[0], 4.0f);
}

TEST(Batcher, APassedDeadlineDropsTheWorkNotStarted) {
  FakeModel model;
  model.delay = 300ms;
  const cli::Batcher::Options options = one_at_a_time();
  cli::Batcher batcher(options, [&](const clip::Tensor& x) { return model(x); });
  auto running =
      std::async(std::launch::async, [&] { return batcher.submit(rows({1}), cli::Batcher::Clock::now() + 10s); });
  std::this_thread::sleep_for(50ms);
  EXPECT_THROW(batcher.submit(rows({2}), cli::Batcher::Clock::now() + 50ms), cli::Batcher::DeadlineExceeded);
  running.get();
  batcher.stop();
  EXPECT_EQ(model.batches.size(), 1u);  // the abandoned request never ran
}

TEST(Batcher, AClientThatLeavesWhileQueuedIsDroppedAndOneRunningIsAnswered) {
  FakeModel model;
  model.delay = 300ms;
  const cli::Batcher::Options options = one_at_a_time();
  cli::Batcher batcher(options, [&](const clip::Tensor& x) { return model(x); });
  std::atomic<bool> left{false};
  const cli::Batcher::Gone gone = [&] { return left.load(); };
  auto running = std::async(std::launch::async,
                            [&] { return batcher.submit(rows({1}), cli::Batcher::Clock::now() + 10s, nullptr, gone); });
  std::this_thread::sleep_for(50ms);
  auto waiting = std::async(std::launch::async,
                            [&] { return batcher.submit(rows({2}), cli::Batcher::Clock::now() + 10s, nullptr, gone); });
  std::this_thread::sleep_for(50ms);
  left = true;  // both clients leave: the running one's batch finishes, the queued one is dropped
  EXPECT_THROW(waiting.get(), cli::Batcher::ClientGone);
  EXPECT_EQ(running.get().data<float>()[0], 1.0f);
  batcher.stop();
  EXPECT_EQ(model.batches.size(), 1u);  // dropped before the worker came to it: never ran
}

TEST(Batcher, StopFinishesTheQueueThenRefuses) {
  FakeModel model;
  model.delay = 100ms;
  const cli::Batcher::Options options = one_at_a_time();
  cli::Batcher batcher(options, [&](const clip::Tensor& x) { return model(x); });
  std::vector<std::future<clip::Tensor>> results;
  for (int i = 0; i < 3; ++i)
    results.push_back(std::async(std::launch::async, [&, i] {
      auto ticket = batcher.expect();  // as clip serve's handlers: on its way, then submitted
      return batcher.submit(rows({float(i)}), cli::Batcher::Clock::now() + 10s, &ticket);
    }));
  std::this_thread::sleep_for(50ms);
  batcher.stop();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)].get().data<float>()[0], float(i));
  EXPECT_THROW(batcher.submit(rows({9}), cli::Batcher::Clock::now() + 10s), cli::Batcher::Stopped);
}

TEST(Batcher, AFailingBatchFailsItsRequestsOnly) {
  std::atomic<int> calls{0};
  cli::Batcher::Options options;
  options.max_wait = 0ms;
  cli::Batcher batcher(options, [&](const clip::Tensor& x) {
    if (calls++ == 0) throw clip::Error("model failed");
    return clip::Tensor({x.size(0), 1}, clip::DType::Float32);
  });
  EXPECT_THROW(batcher.submit(rows({1}), cli::Batcher::Clock::now() + 10s), clip::Error);
  EXPECT_EQ(batcher.submit(rows({2}), cli::Batcher::Clock::now() + 10s).size(0), 1);
}

}  // namespace
