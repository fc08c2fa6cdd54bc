// Client workflows end to end in the engine, against one emulated shared device (an accelerator
// elsewhere: one request at a time, a fixed service time, completions from its own thread as
// gRPC's are). With fixed work Z and service time S a closed loop of N jobs settles into a
// pipeline that meets the queueing bound exactly: events/s = min(N / (Z + S), 1 / S).
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "bench/loadgen/load_generator.h"
#include "core/clock.h"

namespace sonic {
namespace {

class SharedDevice final : public Target {
 public:
  explicit SharedDevice(std::int64_t service_ns)
      : service_ns_(service_ns), thread_([this] { Serve(); }) {}
  ~SharedDevice() override {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  void Setup(int workers) override { workers_ = workers; }
  void PrepareWorker(int) override {}
  void Submit(const Request& request, CompletionHandler& on_done) override {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({request, &on_done});
    }
    wake_.notify_one();
  }
  int batch() const override { return 1; }
  int workers() const { return workers_; }

 private:
  void Serve() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (done_) return;
      const auto [request, handler] = queue_.front();
      queue_.pop_front();
      lock.unlock();
      // As the null backend's emulated device: sleep, then spin the last 60 µs.
      const std::int64_t end = MonotonicNs() + service_ns_;
      SleepUntilNs(end - 60'000);
      while (MonotonicNs() < end) {
      }
      handler->OnDone(request, Response{});
      lock.lock();
    }
  }

  const std::int64_t service_ns_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<Request, CompletionHandler*>> queue_;
  bool done_ = false;
  int workers_ = 0;
  std::thread thread_;
};

LoadSettings Jobs(int jobs, const char* work, ClientMode mode, int requests_per_event = 1) {
  LoadSettings s;
  s.mode = LoadMode::kClosed;
  s.concurrency = jobs;
  s.warmup_s = 0.3;
  s.min_duration_s = 1.5;
  s.min_requests = 20;
  s.max_duration_s = 6;
  s.workflow = EventWorkflow{ParseEventWork(work), requests_per_event, mode};
  return s;
}

TEST(Workflow, EventsPerSecondFollowTheClosedLoopBoundAgainstJobs) {
  constexpr double kWorkS = 8e-3, kServiceS = 2e-3;
  // Not at the knee itself (N = (Z + S) / S = 5), where any jitter leaves the device idle.
  for (int jobs : {1, 2, 4, 8, 16}) {
    SharedDevice device(std::llround(kServiceS * 1e9));
    const std::optional<CellResult> result =
        RunLoad(device, Jobs(jobs, "elsewhere:8", ClientMode::kSync));
    ASSERT_TRUE(result.has_value());
    const double bound = std::min(jobs / (kWorkS + kServiceS), 1 / kServiceS);
    EXPECT_NEAR(result->throughput_events_per_s / bound, 1, 0.05) << jobs << " jobs";
    // One request per event: as many requests as events, give or take those in flight.
    EXPECT_NEAR(result->throughput_requests_per_s / result->throughput_events_per_s, 1, 0.02);
    EXPECT_EQ(result->event_time.count(), result->completed_events);
    if (jobs == 1) {
      EXPECT_NEAR(result->event_time.Percentile(0.5) * 1e-9 / (kWorkS + kServiceS), 1, 0.05);
      EXPECT_NEAR(result->EventInferenceFraction(), kServiceS / (kWorkS + kServiceS), 0.03);
    }
    if (jobs == 16) {
      EXPECT_GT(result->EventInferenceFraction(), 0.5) << "the device saturates";
    }
  }
}

TEST(Workflow, AsyncOverlapsTheWorkWithTheInference) {
  // Z = 10 ms, S = 4 ms, two requests per event on the one device: sync takes Z + 2S = 18 ms,
  // async max(Z, 2S) = 10 ms.
  for (ClientMode mode : {ClientMode::kSync, ClientMode::kAsync}) {
    SharedDevice device(4'000'000);
    const std::optional<CellResult> result = RunLoad(device, Jobs(1, "elsewhere:10", mode, 2));
    ASSERT_TRUE(result.has_value());
    const double expected_s = mode == ClientMode::kSync ? 18e-3 : 10e-3;
    EXPECT_NEAR(result->event_time.Percentile(0.5) * 1e-9 / expected_s, 1, 0.05)
        << ClientModeName(mode);
    EXPECT_NEAR(result->throughput_requests_per_s / result->throughput_events_per_s, 2, 0.05);
    // An async job has both requests in flight at once: two target workers.
    EXPECT_EQ(device.workers(), mode == ClientMode::kAsync ? 2 : 1);
  }
}

TEST(Workflow, CpuWorkCostsTheJobsCpu) {
  SharedDevice device(1'000'000);
  const std::optional<CellResult> result = RunLoad(device, Jobs(1, "cpu:5", ClientMode::kSync));
  ASSERT_TRUE(result.has_value());
  ASSERT_GT(result->completed_events, 0);
  const double cpu_ms_per_event = 1e3 * (result->client_cpu_user_s + result->client_cpu_sys_s) /
                                  static_cast<double>(result->completed_events);
  EXPECT_GE(cpu_ms_per_event, 4.0);
  EXPECT_GE(result->event_time.Percentile(0.5) * 1e-9, 6e-3 * 0.95);  // the work, then 1 ms
}

// 1,024 jobs in one process: the generator must not be what limits them. Z = 1 s, S = 0.5 ms:
// the device is half busy and events/s = 1024 / 1.0005 s.
TEST(Workflow, AThousandJobsStayOnTheBound) {
  SharedDevice device(500'000);
  LoadSettings settings = Jobs(1024, "elsewhere:1000", ClientMode::kSync);
  settings.warmup_s = 2.2;  // past the first round, where every job arrives at once
  settings.min_duration_s = 3;
  settings.max_duration_s = 12;
  const std::optional<CellResult> result = RunLoad(device, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_NEAR(result->throughput_events_per_s / (1024 / 1.0005), 1, 0.02);
}

}  // namespace
}  // namespace sonic
