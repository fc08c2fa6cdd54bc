#include "bench/loadgen/load_generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "backends/registry.h"
#include "bench/loadgen/local_target.h"
#include "core/clock.h"
#include "core/error.h"
#include "models/zoo.h"

namespace sonic {
namespace {

// Short cells so that the suite stays fast; the rules are the same at any length.
LoadSettings Quick(LoadMode mode, int concurrency) {
  LoadSettings s;
  s.mode = mode;
  s.concurrency = concurrency;
  s.warmup_s = 0.02;
  s.min_duration_s = 0.2;
  s.min_requests = 10;
  s.max_duration_s = 2.0;
  return s;
}

LocalTarget NullTarget(int batch = 1) {
  LocalTargetOptions options;
  options.batch = batch;
  return LocalTarget(MakeBackend("null"), BuildModel("jet_cnn"), options,
                     std::make_shared<RandomInputSource>(1));
}

void SpinFor(std::int64_t ns) {
  const std::int64_t end = MonotonicNs() + ns;
  while (MonotonicNs() < end) {
  }
}

// Completes inline after a fixed busy time, tracking how many requests are in flight.
class BusyTarget : public Target {
 public:
  explicit BusyTarget(std::int64_t busy_ns, bool sleep = false)
      : busy_ns_(busy_ns), sleep_(sleep) {}
  void Setup(int workers) override { per_worker_.assign(workers, 0); }
  void PrepareWorker(int) override {}
  void Submit(const Request& request, CompletionHandler& on_done) override {
    const int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    if (++per_worker_[request.worker] != 1) worker_overlap_ = true;
    if (sleep_) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(busy_ns_));
    } else {
      SpinFor(busy_ns_);
    }
    --per_worker_[request.worker];
    --in_flight_;
    on_done.OnDone(request, Response{});
  }
  int batch() const override { return 1; }

  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::vector<int> per_worker_;
  bool worker_overlap_ = false;

 private:
  std::int64_t busy_ns_;
  bool sleep_;
};

TEST(LoadGenerator, ClosedLoopCountsAddUp) {
  LocalTarget target = NullTarget(/*batch=*/4);
  const std::optional<CellResult> result = RunLoad(target, Quick(LoadMode::kClosed, 2));
  ASSERT_TRUE(result.has_value());
  EXPECT_GT(result->completed_requests, 1000);
  EXPECT_EQ(result->latency.count(), result->completed_requests);
  EXPECT_EQ(result->completed_inferences, 4 * result->completed_requests);
  EXPECT_EQ(result->send_lag.count(), 0) << "closed loop records no send lag";
  EXPECT_NEAR(result->throughput_requests_per_s, result->completed_requests / result->duration_s,
              1e-6 * result->throughput_requests_per_s);
  EXPECT_DOUBLE_EQ(result->throughput_inferences_per_s, 4 * result->throughput_requests_per_s);
  EXPECT_GT(result->warmup_requests, 0);
  EXPECT_TRUE(result->errors.empty());
  // Raw records: capped, split between the workers, all inside the window and ordered.
  EXPECT_EQ(result->raw_records.size(), kDefaultRawRecordCap);
  EXPECT_TRUE(result->raw_records_truncated);
  EXPECT_TRUE(std::is_sorted(result->raw_records.begin(), result->raw_records.end(),
                             [](auto& a, auto& b) { return a.scheduled_ns < b.scheduled_ns; }));
  for (const RequestRecord& r : result->raw_records) {
    ASSERT_LE(r.scheduled_ns, r.received_ns);
    ASSERT_EQ(r.scheduled_ns, r.sent_ns);
  }
  EXPECT_GT(result->client_cpu_user_s + result->client_cpu_sys_s, 0);
}

TEST(LoadGenerator, RawRecordsKeepEveryRequestUnderTheCap) {
  BusyTarget target(200'000);
  LoadSettings settings = Quick(LoadMode::kClosed, 2);
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->raw_records_truncated);
  EXPECT_EQ(static_cast<std::int64_t>(result->raw_records.size()), result->completed_requests);
}

TEST(LoadGenerator, ClosedLoopKeepsExactlyConcurrencyInFlight) {
  for (int concurrency : {1, 3}) {
    BusyTarget target(2'000'000, /*sleep=*/true);
    LoadSettings settings = Quick(LoadMode::kClosed, concurrency);
    const std::optional<CellResult> result = RunLoad(target, settings);
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(target.max_in_flight_.load(), concurrency);
    EXPECT_FALSE(target.worker_overlap_) << "a worker had two requests in flight";
    // Each client completes one request per 2 ms at best (at worst: the machine is busy).
    EXPECT_LE(result->throughput_requests_per_s, concurrency * 500.0 * 1.05);
  }
}

TEST(LoadGenerator, OpenLoopFollowsTheRateAndMeasuresFromTheSchedule) {
  BusyTarget target(1'000'000, /*sleep=*/true);
  LoadSettings settings = Quick(LoadMode::kOpen, 4);
  settings.rate_hz = 500;
  settings.min_duration_s = 0.4;
  settings.max_send_lag_s = 0.05;  // generous: other work on the machine delays wake-ups
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_NEAR(result->throughput_requests_per_s, 500, 500 * 0.05);
  EXPECT_EQ(result->send_lag.count(), result->completed_requests);
  EXPECT_FALSE(result->generator_behind) << result->convergence_reason;
  // Latency includes the 1 ms of service.
  EXPECT_GE(result->latency.Percentile(0.5), 1e6 * 0.99);
}

TEST(LoadGenerator, OpenLoopLatencyIncludesTheWaitForAFreeWorker) {
  // One worker, 2 ms per request, asked for 1000 requests/s: the schedule runs away from the
  // sends. Measured from the scheduled time, latency grows with the backlog (no coordinated
  // omission); measured from the send it would stay at 2 ms.
  BusyTarget target(2'000'000, /*sleep=*/true);
  LoadSettings settings = Quick(LoadMode::kOpen, 1);
  settings.rate_hz = 1000;
  settings.max_duration_s = 0.4;
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->generator_behind);
  EXPECT_NE(result->convergence_reason.find("generator behind"), std::string::npos);
  EXPECT_GT(result->send_lag.Percentile(0.99), 50e6) << "the backlog shows as send lag";
  EXPECT_GT(result->latency.Percentile(0.99), result->send_lag.Percentile(0.99));
  for (const RequestRecord& r : result->raw_records) {
    ASSERT_GE(r.sent_ns, r.scheduled_ns);
    ASSERT_GE(r.received_ns - r.sent_ns, 2'000'000 * 0.95);
  }
}

TEST(LoadGenerator, ConvergesEarlyForAStableTarget) {
  // Open loop at a constant rate: the throughput follows the schedule even when other work on the
  // machine delays the worker now and then (it catches up), so this holds on a busy machine too.
  LocalTarget target = NullTarget();
  LoadSettings settings = Quick(LoadMode::kOpen, 1);
  settings.rate_hz = 2000;
  settings.min_duration_s = 0.5;
  settings.max_duration_s = 20;
  settings.ci_fraction = 0.1;
  settings.max_send_lag_s = 1;
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->converged) << result->convergence_reason;
  EXPECT_EQ(result->status, CellStatus::kOk);
  EXPECT_LT(result->duration_s, 10.0);
  EXPECT_GE(result->duration_s, settings.min_duration_s);
  // The stored interval covers the whole window, which runs on to the next sub-window boundary
  // after the decision: close to, not exactly, the one that decided.
  EXPECT_LE(result->throughput_requests_per_s_ci95,
            2 * settings.ci_fraction * result->throughput_requests_per_s);
  EXPECT_NE(result->convergence_reason.find("ci"), std::string::npos);
}

// Alternates between fast and slow phases of 30 ms: sub-window rates swing by 2x.
class UnstableTarget : public BusyTarget {
 public:
  UnstableTarget() : BusyTarget(0) {}
  void Submit(const Request& request, CompletionHandler& on_done) override {
    const bool slow = (MonotonicNs() / 70'000'000) % 2 == 1;
    SpinFor(slow ? 400'000 : 100'000);
    on_done.OnDone(request, Response{});
  }
};

TEST(LoadGenerator, MarksNotConvergedAtMaxDuration) {
  UnstableTarget target;
  LoadSettings settings = Quick(LoadMode::kClosed, 1);
  settings.ci_fraction = 0.001;
  settings.max_duration_s = 0.5;
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->converged);
  EXPECT_EQ(result->status, CellStatus::kNotConverged);
  EXPECT_NE(result->convergence_reason.find("max duration"), std::string::npos)
      << result->convergence_reason;
  EXPECT_NEAR(result->duration_s, 0.5, 0.1);
}

TEST(LoadGenerator, MinCountKeepsTheWindowOpen) {
  BusyTarget target(5'000'000, /*sleep=*/true);
  LoadSettings settings = Quick(LoadMode::kClosed, 1);
  settings.min_requests = 100;  // 0.5 s at 200/s: longer than min_duration_s
  settings.ci_fraction = 0.5;   // only the count decides here
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->converged) << result->convergence_reason;
  EXPECT_GE(result->completed_requests, 95);
}

// Completes every request from its own thread, later: the load generator must wait for it.
class AsyncTarget : public Target {
 public:
  AsyncTarget() : thread_([this] { Loop(); }) {}
  ~AsyncTarget() override {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void Setup(int) override {}
  void PrepareWorker(int) override {}
  void Submit(const Request& request, CompletionHandler& on_done) override {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({request, &on_done});
    }
    cv_.notify_one();
  }
  int batch() const override { return 1; }

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (done_) return;
      auto [request, handler] = queue_.front();
      queue_.pop_front();
      lock.unlock();
      SpinFor(20'000);
      handler->OnDone(request, Response{});
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<Request, CompletionHandler*>> queue_;
  bool done_ = false;
  std::thread thread_;
};

TEST(LoadGenerator, WorksWithAnAsynchronousTarget) {
  AsyncTarget target;
  for (LoadMode mode : {LoadMode::kClosed, LoadMode::kOpen}) {
    LoadSettings settings = Quick(mode, 2);
    settings.rate_hz = 2000;
    settings.max_send_lag_s = 0.01;
    const std::optional<CellResult> result = RunLoad(target, settings);
    ASSERT_TRUE(result.has_value());
    EXPECT_GT(result->completed_requests, 100);
    EXPECT_EQ(result->latency.count(), result->completed_requests);
    for (const RequestRecord& r : result->raw_records) {
      ASSERT_GE(r.received_ns - r.sent_ns, 20'000);
      ASSERT_GE(r.sent_ns, r.scheduled_ns);
    }
  }
}

class FailingTarget : public BusyTarget {
 public:
  explicit FailingTarget(bool fail_prepare) : BusyTarget(0), fail_prepare_(fail_prepare) {}
  void PrepareWorker(int) override {
    if (fail_prepare_) Throw(ErrorKind::kUnsupported, "precision bf16 is not supported");
  }
  void Submit(const Request& request, CompletionHandler& on_done) override {
    Response response;
    response.error = ErrorKind::kBackend;
    response.error_message = "device lost";
    on_done.OnDone(request, response);
  }

 private:
  bool fail_prepare_;
};

TEST(LoadGenerator, SetupErrorsAndAllFailedRequestsThrow) {
  FailingTarget bad_setup(/*fail_prepare=*/true);
  try {
    RunLoad(bad_setup, Quick(LoadMode::kClosed, 2));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnsupported);
  }
  FailingTarget bad_requests(/*fail_prepare=*/false);
  LoadSettings settings = Quick(LoadMode::kClosed, 1);
  settings.stop_after_failures = 0;  // the window's own rule: it ends with no success in it
  try {
    RunLoad(bad_requests, settings);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kBackend);
    EXPECT_NE(std::string(error.what()).find("device lost"), std::string::npos);
  }
}

// Answers its first `healthy` requests, then fails every request (a server that died), or, with
// `alternate`, fails every other request from then on.
class DyingTarget : public BusyTarget {
 public:
  DyingTarget(int healthy, bool alternate)
      : BusyTarget(200'000), healthy_(healthy), alternate_(alternate) {}
  void Submit(const Request& request, CompletionHandler& on_done) override {
    const int n = submitted_++;
    if (n < healthy_ || (alternate_ && n % 2 == 0)) return BusyTarget::Submit(request, on_done);
    ++failed_;
    Response response;
    response.error = ErrorKind::kUnavailable;
    response.error_message = "connection refused";
    on_done.OnDone(request, response);
  }
  std::atomic<int> submitted_{0};
  std::atomic<int> failed_{0};

 private:
  int healthy_;
  bool alternate_;
};

TEST(LoadGenerator, FailuresInARowStopTheCellEarly) {
  LoadSettings settings = Quick(LoadMode::kClosed, 2);
  settings.ci_fraction = 1e-6;  // never converges: only the failures can end it before 2 s
  settings.stop_after_failures = 5;
  // Warm-up (0.02 s) and part of the window are served at 0.2 ms per request.
  DyingTarget target(/*healthy=*/400, /*alternate=*/false);
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_NE(result->convergence_reason.find("5 requests in a row failed"), std::string::npos)
      << result->convergence_reason;
  EXPECT_LT(result->duration_s, 0.5 * settings.max_duration_s);
  EXPECT_GT(result->completed_requests, 0);
  ASSERT_TRUE(result->errors.contains("unavailable"));
  EXPECT_GE(result->errors.at("unavailable"), 1);
  EXPECT_LE(result->errors.at("unavailable"), target.failed_.load());
}

TEST(LoadGenerator, FailuresThatAreNotInARowDoNotStopTheCell) {
  LoadSettings settings = Quick(LoadMode::kClosed, 1);
  settings.ci_fraction = 1e-6;
  settings.max_duration_s = 0.4;
  settings.stop_after_failures = 3;
  DyingTarget target(/*healthy=*/0, /*alternate=*/true);
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_NE(result->convergence_reason.find("max duration"), std::string::npos)
      << result->convergence_reason;
  EXPECT_GT(result->errors.at("unavailable"), 3);
}

TEST(LoadGenerator, FailuresInARowDuringWarmUpFailTheCellAtOnce) {
  LoadSettings settings = Quick(LoadMode::kClosed, 1);
  settings.warmup_s = 1.5;  // far longer than the failures take
  settings.stop_after_failures = 4;
  FailingTarget target(/*fail_prepare=*/false);
  const std::int64_t start_ns = MonotonicNs();
  try {
    RunLoad(target, settings);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kBackend);
    EXPECT_NE(std::string(error.what()).find("warm-up stopped: 4 requests in a row failed"),
              std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("device lost"), std::string::npos) << error.what();
  }
  EXPECT_LT(MonotonicNs() - start_ns, 1'000'000'000) << "did not wait for the warm-up to end";
}

TEST(LoadGenerator, CancelAbandonsTheCell) {
  LocalTarget target = NullTarget();
  std::atomic<bool> cancel{false};
  LoadSettings settings = Quick(LoadMode::kClosed, 2);
  settings.min_duration_s = 5;
  settings.max_duration_s = 5;
  int calls = 0;
  const std::optional<CellResult> result =
      RunLoad(target, settings, &cancel, [&](const LoadProgress&) {
        if (++calls == 2) cancel = true;
      });
  EXPECT_FALSE(result.has_value());
}

// Records the CPUs its worker runs on during setup and during the timed requests.
class AffinityProbe : public BusyTarget {
 public:
  AffinityProbe() : BusyTarget(0) {}
  void PrepareWorker(int) override { prepare_cpus = CurrentThreadCpus(); }
  void Submit(const Request& request, CompletionHandler& on_done) override {
    if (submit_cpus.empty()) submit_cpus = CurrentThreadCpus();
    on_done.OnDone(request, Response{});
  }
  CpuList prepare_cpus, submit_cpus;
};

TEST(LoadGenerator, PinsBackendSetupAndClientWorkersSeparately) {
  if (CurrentThreadCpus().size() < 2) GTEST_SKIP() << "needs two CPUs";
  AffinityProbe target;
  LoadSettings settings = Quick(LoadMode::kClosed, 1);
  settings.backend_cpus = {1};
  settings.client_cpus = {0};
  ASSERT_TRUE(RunLoad(target, settings).has_value());
  EXPECT_EQ(target.prepare_cpus, CpuList({1})) << "threads a backend spawns in setup inherit this";
  EXPECT_EQ(target.submit_cpus, CpuList({0}));
}

// A fleet's hooks: the start barrier runs once, after every worker is prepared and before any
// request; a fixed window lasts exactly min_duration_s and is judged at its end.
TEST(LoadGenerator, FixedWindowAfterTheStartBarrier) {
  BusyTarget target(100'000);
  LoadSettings settings = Quick(LoadMode::kClosed, 2);
  settings.ci_fraction = 1e9;  // any spread converges: the judging, not this machine, is tested
  int barriers = 0;
  int in_flight_at_barrier = -1;
  settings.start_barrier = [&] {
    ++barriers;
    in_flight_at_barrier = target.in_flight_.load();
  };
  settings.fixed_window = true;
  const auto result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(barriers, 1);
  EXPECT_EQ(in_flight_at_barrier, 0);
  // min_duration_s, or whole sub-windows more when the controller woke too late to publish the
  // end in time (a loaded machine): never shorter, always whole sub-windows.
  const double sub_window_s = settings.min_duration_s / settings.sub_windows;
  EXPECT_GE(result->duration_s, settings.min_duration_s - 1e-6);
  EXPECT_NEAR(std::remainder(result->duration_s, sub_window_s), 0.0, 1e-6);
  EXPECT_NEAR(result->sub_window_s, sub_window_s, 1e-9);
  EXPECT_EQ(result->window_progress.size(),
            static_cast<std::size_t>(std::llround(result->duration_s / sub_window_s)) + 1);
  EXPECT_NEAR(result->window_progress.back() - result->window_progress.front(),
              static_cast<double>(result->completed_requests), 2.0);
  EXPECT_EQ(result->status, CellStatus::kOk) << result->convergence_reason;
  EXPECT_NE(result->convergence_reason.find("fixed window"), std::string::npos);

  // An impossible precision: the same window, judged not converged.
  settings.ci_fraction = 1e-9;
  const auto strict = RunLoad(target, settings);
  ASSERT_TRUE(strict.has_value());
  EXPECT_GE(strict->duration_s, settings.min_duration_s - 1e-6);
  EXPECT_EQ(strict->status, CellStatus::kNotConverged);
}

TEST(LoadGenerator, AStartBarrierThatThrowsFailsTheCell) {
  BusyTarget target(10'000);
  LoadSettings settings = Quick(LoadMode::kClosed, 2);
  settings.start_barrier = [] { Throw(ErrorKind::kUnavailable, "rank 3 is gone"); };
  try {
    RunLoad(target, settings);
    ADD_FAILURE() << "the barrier's error was swallowed";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnavailable);
    EXPECT_STREQ(error.what(), "rank 3 is gone");
  }
  EXPECT_EQ(target.max_in_flight_.load(), 0) << "no request may be sent after a failed start";
}

// Issue 22 §2: at a rate far above what the target keeps up with, the schedule's arrivals that
// were never sent are not all replayed (at 1e10 Hz that took longer than the cell): the count
// stops once the generator is certainly behind.
TEST(LoadGenerator, AScheduleFarAheadOfTheSendsIsCountedOnlyUntilBehindIsCertain) {
  BusyTarget target(1'000'000, /*sleep=*/true);
  LoadSettings settings = Quick(LoadMode::kOpen, 2);
  settings.rate_hz = kMaxRateHz;
  settings.max_duration_s = 0.4;
  const std::optional<CellResult> result = RunLoad(target, settings);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->generator_behind);
  EXPECT_NE(result->convergence_reason.find("scheduled"), std::string::npos);
  EXPECT_NE(result->convergence_reason.find("more than"), std::string::npos)
      << result->convergence_reason;
}

TEST(LoadGenerator, RejectsBadSettings) {
  LocalTarget target = NullTarget();
  LoadSettings settings = Quick(LoadMode::kOpen, 1);
  EXPECT_THROW(RunLoad(target, settings), Error) << "open loop without a rate";
  settings = Quick(LoadMode::kClosed, 0);
  EXPECT_THROW(RunLoad(target, settings), Error);
  settings = Quick(LoadMode::kClosed, 1);
  settings.max_duration_s = 0.1;
  EXPECT_THROW(RunLoad(target, settings), Error) << "max below min duration";
  settings.min_duration_s = 0.01;
  settings.max_duration_s = 1000;
  EXPECT_THROW(RunLoad(target, settings), Error) << "a million sub-windows";
  settings = Quick(LoadMode::kClosed, 1);
  settings.stop_after_failures = -1;
  EXPECT_THROW(RunLoad(target, settings), Error) << "negative stop_after_failures";
  settings = Quick(LoadMode::kClosed, kMaxConcurrency + 1);
  EXPECT_THROW(RunLoad(target, settings), Error) << "more workers than one process runs";
  settings = Quick(LoadMode::kOpen, 1);
  settings.rate_hz = 1e12;
  EXPECT_THROW(RunLoad(target, settings), Error) << "a rate no process can schedule";
}

}  // namespace
}  // namespace sonic
