#include "bench/loadgen/load_generator.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "bench/loadgen/convergence.h"
#include "core/clock.h"
#include "core/error.h"

namespace sonic {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
// Phase changes are published this far ahead of the time they name, so that a worker completing a
// request after that time has certainly seen the new value.
constexpr std::int64_t kPublishMarginNs = 1'000'000;
// Open loop: sleep until this long before a send time, then spin; with a 1 ns timer slack a
// wake-up is late by well under this on an idle core.
constexpr std::int64_t kSpinMarginNs = 60'000;
// Longest sleep of an idle worker or of the controller, so that a stop or a cancel is seen soon.
constexpr std::int64_t kMaxSleepNs = 5'000'000;
constexpr std::int64_t kProgressIntervalNs = 250'000'000;
constexpr double kMaxSubWindows = 100'000;

void SleepUntil(std::int64_t deadline_ns) {
  timespec ts{static_cast<time_t>(deadline_ns / 1'000'000'000),
              static_cast<long>(deadline_ns % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// Written by the controller at phase changes only, read by every worker once per request: the line
// stays shared in every core's cache.
struct alignas(64) Phase {
  std::atomic<std::int64_t> measure_start_ns{kNever};
  std::atomic<std::int64_t> stop_ns{kNever};
  std::atomic<int> go{0};  // 1: run; 2: abandon before the first request (setup failed)
  // Requests failed in a row. Written only while requests fail, so that the line stays
  // read-mostly while the target answers.
  std::atomic<std::int64_t> failures_in_a_row{0};
};

// The open-loop arrival times, taken in order by whichever worker is free.
class SharedSchedule {
 public:
  SharedSchedule(const LoadSettings& settings, std::int64_t start_ns)
      : settings_(settings),
        start_ns_(start_ns),
        schedule_(settings.arrival, settings.rate_hz, settings.arrival_seed, start_ns) {}
  std::int64_t Take() {
    std::lock_guard lock(mutex_);
    ++taken_;
    return schedule_.Next();
  }

  struct WindowCount {
    std::int64_t scheduled = 0;  // arrivals scheduled in the window (a lower bound if truncated)
    bool truncated = false;
  };
  // After the workers have stopped: the arrivals scheduled in [from_ns, to_ns). Those taken are
  // replayed; of those never taken (a generator behind its schedule) at most `untaken_limit` are
  // counted, so that the count costs no more than the sends did, whatever the rate.
  WindowCount CountInWindow(std::int64_t from_ns, std::int64_t to_ns, std::int64_t untaken_limit) {
    WindowCount count;
    ArrivalSchedule replay(settings_.arrival, settings_.rate_hz, settings_.arrival_seed, start_ns_);
    for (std::int64_t i = 0; i < taken_; ++i) {
      const std::int64_t t = replay.Next();
      count.scheduled += t >= from_ns && t < to_ns;
    }
    std::int64_t untaken = 0;
    for (std::int64_t t = schedule_.Next(); t < to_ns; t = schedule_.Next()) {
      if (++untaken > untaken_limit) {
        count.truncated = true;
        break;
      }
      count.scheduled += t >= from_ns;
    }
    return count;
  }

 private:
  const LoadSettings& settings_;
  const std::int64_t start_ns_;
  std::mutex mutex_;
  ArrivalSchedule schedule_;
  std::int64_t taken_ = 0;
};

// The one worker whose completion callback may run inline on this thread (see Worker::OnDone).
thread_local const void* tls_worker = nullptr;

// One client worker. Everything it records is its own (no locks, no shared writes on the hot
// path); OnDone writes it either inline on the worker's thread or, for an asynchronous target,
// from the target's thread while the worker waits, the hand-over ordered by `state_`.
class alignas(64) Worker final : public CompletionHandler {
 public:
  Worker(int index, const LoadSettings& settings, Target& target, Phase& phase,
         std::int64_t sub_window_ns, int max_boundaries, std::size_t record_cap)
      : index_(index),
        settings_(settings),
        target_(target),
        phase_(phase),
        sub_window_ns_(sub_window_ns),
        record_cap_(record_cap),
        open_loop_(settings.mode == LoadMode::kOpen),
        progress_(max_boundaries, 0.0) {
    records_.reserve(record_cap);
  }

  // The thread body: prepare (untimed), report ready, wait for go, run until the stop time.
  // `schedule` (open loop) and `start_ns` are read only after go.
  void Body(std::latch& ready, const std::unique_ptr<SharedSchedule>& schedule,
            const std::int64_t& start_ns) {
    tls_worker = this;
    try {
      // Open-loop sleeps must end on time; the default 50 us slack would show up as send lag.
      prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
      const CpuList original = CurrentThreadCpus();
      PinCurrentThread(settings_.backend_cpus);
      target_.PrepareWorker(index_);
      if (!settings_.client_cpus.empty()) {
        PinCurrentThread(settings_.client_cpus);
      } else if (!settings_.backend_cpus.empty()) {
        PinCurrentThread(original);
      }
    } catch (...) {
      error_ = std::current_exception();
    }
    ready.count_down();
    int go;
    while ((go = phase_.go.load(std::memory_order_acquire)) == 0) {
      phase_.go.wait(0, std::memory_order_acquire);
    }
    if (go != 1 || error_) return;
    prev_done_ns_ = start_ns;
    if (schedule) {
      RunOpenLoop(*schedule);
    } else {
      RunClosedLoop();
    }
  }

  void OnDone(const Request& request, const Response& response) noexcept override {
    const std::int64_t now = MonotonicNs();
    received_ns_ = now;
    if (response.status != 0) {
      phase_.failures_in_a_row.fetch_add(1, std::memory_order_relaxed);
      if (first_failure_status_ == 0) {
        first_failure_status_ = response.status;
        first_failure_message_.assign(response.error_message);
      }
    } else if (phase_.failures_in_a_row.load(std::memory_order_relaxed) != 0) {
      phase_.failures_in_a_row.store(0, std::memory_order_relaxed);
    }
    ++completed_total_;
    completed_published_.store(completed_total_, std::memory_order_relaxed);
    if (next_boundary_ns_ == kNever) {
      const std::int64_t start = phase_.measure_start_ns.load(std::memory_order_relaxed);
      if (start != kNever) window_start_ns_ = next_boundary_ns_ = start;
    }
    if (now >= next_boundary_ns_) {
      FillBoundaries(now, /*idle=*/false, std::max(prev_done_ns_, request.sent_ns));
    }
    prev_done_ns_ = now;
    if (now >= phase_.stop_ns.load(std::memory_order_relaxed)) {
      finished_ = true;
    } else if (now < window_start_ns_) {
      ++warmup_completed_;
    } else {
      RecordInWindow(request, response, now);
    }
    if (tls_worker == this) {
      inline_done_ = true;
      return;
    }
    if (state_.exchange(kDone, std::memory_order_acq_rel) == kWaiting) state_.notify_one();
  }

  std::exception_ptr error() const { return error_; }
  std::int64_t completed_published() const {
    return completed_published_.load(std::memory_order_relaxed);
  }
  int boundaries_published() const { return boundaries_published_.load(std::memory_order_acquire); }
  // Valid for indices below boundaries_published().
  double progress(int boundary) const { return progress_[boundary]; }

  // Read after the thread has been joined.
  const LatencyHistogram& latency() const { return latency_; }
  const LatencyHistogram& send_lag() const { return send_lag_; }
  const std::vector<RequestRecord>& records() const { return records_; }
  bool records_truncated() const { return records_truncated_; }
  std::int64_t completed_ok() const { return completed_ok_; }
  std::int64_t warmup_completed() const { return warmup_completed_; }
  std::int64_t sent_in_window() const { return sent_in_window_; }
  std::int64_t bytes_sent() const { return bytes_sent_; }
  std::int64_t bytes_received() const { return bytes_received_; }
  const std::int64_t* error_counts() const { return error_counts_; }
  std::int32_t first_error_status() const { return first_error_status_; }
  const std::string& first_error_message() const { return first_error_message_; }
  // The first failure at any time, warm-up included (first_error_*: in the window).
  std::int32_t first_failure_status() const { return first_failure_status_; }
  const std::string& first_failure_message() const { return first_failure_message_; }

  static constexpr int kStatusSlots = 16;

 private:
  static constexpr std::uint32_t kPending = 0, kWaiting = 1, kDone = 2;

  // Submits and returns once OnDone has run; true when it ran inline (no clock read needed).
  bool SubmitAndWait(const Request& request) {
    inline_done_ = false;
    state_.store(kPending, std::memory_order_relaxed);
    target_.Submit(request, *this);
    if (inline_done_) return true;
    std::uint32_t expected = kPending;
    if (state_.compare_exchange_strong(expected, kWaiting, std::memory_order_acq_rel)) {
      while (state_.load(std::memory_order_acquire) != kDone) {
        state_.wait(kWaiting, std::memory_order_acquire);
      }
    }
    return false;
  }

  void RunClosedLoop() {
    Request request;
    request.worker = index_;
    std::int64_t now = MonotonicNs();
    for (std::int64_t i = 0; !finished_; ++i) {
      request.sample_index = i * settings_.concurrency + index_;
      // A closed-loop client sends its next request the moment it has the previous answer.
      request.scheduled_ns = request.sent_ns = now;
      // Inline, the completion time is that moment: one clock read per request. After an
      // asynchronous completion the client sends once woken up; the wake-up is the client's own
      // delay, not the target's, so it is kept out of the next request's latency.
      now = SubmitAndWait(request) ? received_ns_ : MonotonicNs();
    }
  }

  void RunOpenLoop(SharedSchedule& schedule) {
    Request request;
    request.worker = index_;
    for (std::int64_t i = 0;; ++i) {
      const std::int64_t scheduled = schedule.Take();
      const std::int64_t sent = WaitUntil(scheduled);
      if (sent == kNever) return;
      request.sample_index = i * settings_.concurrency + index_;
      request.scheduled_ns = scheduled;
      request.sent_ns = sent;
      SubmitAndWait(request);
      if (finished_) return;
    }
  }

  // Waits for `scheduled_ns`; returns the send time, or kNever when the stop time comes first.
  // While idle the worker has nothing in flight, so its progress at a passing boundary is exact.
  std::int64_t WaitUntil(std::int64_t scheduled_ns) {
    for (;;) {
      const std::int64_t now = MonotonicNs();
      const std::int64_t stop = phase_.stop_ns.load(std::memory_order_relaxed);
      if (scheduled_ns >= stop) {
        FillIdle(stop);
        return kNever;
      }
      if (now >= scheduled_ns) return now;
      if (scheduled_ns - now <= kSpinMarginNs) {
        __builtin_ia32_pause();
        continue;
      }
      FillIdle(now);
      SleepUntil(std::min(scheduled_ns - kSpinMarginNs, now + kMaxSleepNs));
    }
  }

  void FillIdle(std::int64_t now) {
    if (next_boundary_ns_ == kNever) {
      const std::int64_t start = phase_.measure_start_ns.load(std::memory_order_relaxed);
      if (start == kNever) return;
      window_start_ns_ = next_boundary_ns_ = start;
    }
    if (now >= next_boundary_ns_) FillBoundaries(now, /*idle=*/true, now);
  }

  // Records the (interpolated) number of completions at every boundary up to `now`: the completed
  // count plus the elapsed fraction of the request that was in flight since `busy_since_ns`, which
  // smooths out the +-1 request quantisation that plain counts per sub-window would add to the
  // batch means. An idle worker (nothing in flight) records its count exactly.
  void FillBoundaries(std::int64_t now, bool idle, std::int64_t busy_since_ns) {
    const int size = static_cast<int>(progress_.size());
    int index = boundaries_filled_;
    while (now >= next_boundary_ns_ && index < size) {
      double value = static_cast<double>(completed_total_);
      if (!idle) {
        const double span = static_cast<double>(std::max<std::int64_t>(1, now - busy_since_ns));
        const double fraction = static_cast<double>(next_boundary_ns_ - busy_since_ns) / span;
        value = static_cast<double>(completed_total_ - 1) + std::clamp(fraction, 0.0, 1.0);
      }
      progress_[index++] = value;
      next_boundary_ns_ += sub_window_ns_;
    }
    if (index == size) next_boundary_ns_ = kNever - 1;  // full: never again
    boundaries_filled_ = index;
    boundaries_published_.store(index, std::memory_order_release);
  }

  void RecordInWindow(const Request& request, const Response& response, std::int64_t now) {
    if (request.sent_ns >= window_start_ns_) ++sent_in_window_;
    bytes_sent_ += response.bytes_sent;
    bytes_received_ += response.bytes_received;
    if (response.status == 0) {
      latency_.Record(now - request.scheduled_ns);
      if (open_loop_) send_lag_.Record(request.sent_ns - request.scheduled_ns);
      ++completed_ok_;
    } else {
      ++error_counts_[std::clamp(response.status, 0, kStatusSlots - 1)];
      if (first_error_status_ == 0) {
        first_error_status_ = response.status;
        first_error_message_.assign(response.error_message);
      }
    }
    if (records_.size() < record_cap_) {
      records_.push_back(RequestRecord{request.scheduled_ns, request.sent_ns, now, index_,
                                       response.status, response.server_queue_ns,
                                       response.server_compute_ns});
    } else {
      records_truncated_ = true;
    }
  }

  const int index_;
  const LoadSettings& settings_;
  Target& target_;
  Phase& phase_;
  const std::int64_t sub_window_ns_;
  const std::size_t record_cap_;
  const bool open_loop_;
  std::exception_ptr error_;

  // Hot, written by this worker's requests only.
  std::int64_t received_ns_ = 0;
  std::int64_t prev_done_ns_ = 0;
  std::int64_t completed_total_ = 0;
  std::int64_t next_boundary_ns_ = kNever;
  std::int64_t window_start_ns_ = kNever;
  int boundaries_filled_ = 0;
  bool inline_done_ = false;
  bool finished_ = false;
  std::int64_t warmup_completed_ = 0;
  std::int64_t completed_ok_ = 0;
  std::int64_t sent_in_window_ = 0;
  std::int64_t bytes_sent_ = 0;
  std::int64_t bytes_received_ = 0;
  std::int64_t error_counts_[kStatusSlots] = {};
  std::int32_t first_error_status_ = 0;
  std::string first_error_message_;
  std::int32_t first_failure_status_ = 0;
  std::string first_failure_message_;
  LatencyHistogram latency_;
  LatencyHistogram send_lag_;
  std::vector<RequestRecord> records_;
  bool records_truncated_ = false;
  std::vector<double> progress_;

  // Read by the controller; on their own line so that its reads do not slow the hot fields.
  alignas(64) std::atomic<std::int64_t> completed_published_{0};
  std::atomic<int> boundaries_published_{0};
  std::atomic<std::uint32_t> state_{kPending};
};

struct CpuTimes {
  double user_s = 0, sys_s = 0;
};

CpuTimes ProcessCpuTimes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return {usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6,
          usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6};
}

}  // namespace

void JudgeFixedWindow(const LoadSettings& settings, CellResult& result) {
  const ThroughputEstimate estimate =
      EstimateThroughput(result.window_progress, result.sub_window_s, settings.sub_windows);
  const double requests = static_cast<double>(result.completed_requests);
  result.converged = requests >= static_cast<double>(settings.min_requests) &&
                     estimate.relative_ci95 <= settings.ci_fraction;
  if (result.status != CellStatus::kFailed) {
    result.status = result.converged ? CellStatus::kOk : CellStatus::kNotConverged;
  }
  result.convergence_reason = fmt::format(
      "fixed window {:.1f} s, {:.0f} requests (min {}): ci ±{:.2f}% {} ±{:.2f}%", result.duration_s,
      requests, settings.min_requests, 100 * estimate.relative_ci95,
      estimate.relative_ci95 <= settings.ci_fraction ? "<=" : ">", 100 * settings.ci_fraction);
}

std::string_view LoadModeName(LoadMode mode) {
  switch (mode) {
    case LoadMode::kClosed:
      return "closed";
    case LoadMode::kOpen:
      return "open";
    case LoadMode::kOffline:
      return "offline";
  }
  return "unknown";
}

LoadMode ParseLoadMode(std::string_view name) {
  if (name == "closed") return LoadMode::kClosed;
  if (name == "open") return LoadMode::kOpen;
  if (name == "offline") return LoadMode::kOffline;
  Throw(ErrorKind::kInvalidArgument, "unknown mode '{}': expected closed, open or offline", name);
}

void ValidateLoadSettings(const LoadSettings& s) {
  auto bad = [](std::string_view what, auto value, std::string_view expected) {
    Throw(ErrorKind::kInvalidArgument, "{} = {}: expected {}", what, value, expected);
  };
  if (s.concurrency < 1 || s.concurrency > kMaxConcurrency) {
    bad("concurrency", s.concurrency, fmt::format("1 to {} in one process", kMaxConcurrency));
  }
  if (s.mode == LoadMode::kOpen && !(s.rate_hz > 0 && s.rate_hz <= kMaxRateHz)) {
    bad("rate_hz", s.rate_hz,
        fmt::format("a positive rate for open loop, at most {:g} Hz in one process", kMaxRateHz));
  }
  if (!(s.warmup_s >= 0)) bad("warmup_s", s.warmup_s, "0 or more");
  if (s.warmup_requests < 0) bad("warmup_requests", s.warmup_requests, "0 or more");
  if (!(s.min_duration_s > 0)) bad("min_duration_s", s.min_duration_s, "more than 0");
  if (s.min_requests < 0) bad("min_requests", s.min_requests, "0 or more");
  if (!(s.max_duration_s >= s.min_duration_s)) {
    bad("max_duration_s", s.max_duration_s, "at least min_duration_s");
  }
  if (!(s.ci_fraction > 0)) bad("ci_fraction", s.ci_fraction, "more than 0");
  if (s.sub_windows < 2) bad("sub_windows", s.sub_windows, "at least 2");
  if (s.stop_after_failures < 0) {
    bad("stop_after_failures", s.stop_after_failures, "0 (never) or more");
  }
  // Each worker keeps one value per sub-window boundary up to the maximum duration.
  if (s.max_duration_s / (s.min_duration_s / s.sub_windows) > kMaxSubWindows) {
    bad("max_duration_s", s.max_duration_s,
        fmt::format("at most {} sub-windows of min_duration_s / sub_windows", kMaxSubWindows));
  }
  if (!(s.max_send_lag_s > 0)) bad("max_send_lag_s", s.max_send_lag_s, "more than 0");
}

std::optional<CellResult> RunLoad(Target& target, const LoadSettings& settings,
                                  const std::atomic<bool>* cancel,
                                  const std::function<void(const LoadProgress&)>& on_progress) {
  ValidateLoadSettings(settings);
  const int workers = settings.concurrency;
  const auto sub_window_ns =
      std::max<std::int64_t>(1, std::llround(settings.min_duration_s / settings.sub_windows * 1e9));
  const auto max_duration_ns = std::llround(settings.max_duration_s * 1e9);
  const int max_windows = static_cast<int>((max_duration_ns + sub_window_ns - 1) / sub_window_ns);
  // Boundaries 0..max_windows, plus room for the few a late stop can add.
  const int max_boundaries = max_windows + 8;
  auto cancelled = [&] { return cancel != nullptr && cancel->load(std::memory_order_relaxed); };

  target.Setup(workers);
  Phase phase;
  std::vector<std::unique_ptr<Worker>> pool;
  for (int w = 0; w < workers; ++w) {
    pool.push_back(std::make_unique<Worker>(w, settings, target, phase, sub_window_ns,
                                            max_boundaries, settings.raw_record_cap / workers));
  }
  std::unique_ptr<SharedSchedule> schedule;
  std::int64_t start_ns = 0;
  std::latch ready(workers);
  std::vector<std::jthread> threads;
  // Whatever ends this function early (a cancel, an exception) stops the workers before the
  // threads are joined; declared after `threads`, so it runs first.
  struct StopOnExit {
    Phase& phase;
    ~StopOnExit() {
      phase.stop_ns.store(0, std::memory_order_relaxed);
      if (phase.go.load() == 0) phase.go.store(2);
      phase.go.notify_all();
    }
  } stop_on_exit{phase};
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] { pool[w]->Body(ready, schedule, start_ns); });
  }
  ready.wait();
  auto release = [&](int go) {
    phase.go.store(go, std::memory_order_release);
    phase.go.notify_all();
  };
  for (const auto& worker : pool) {
    if (worker->error()) {
      release(2);
      threads.clear();  // joins
      std::rethrow_exception(worker->error());
    }
  }
  auto stop_and_join = [&](std::int64_t stop_ns) {
    phase.stop_ns.store(stop_ns, std::memory_order_relaxed);
    threads.clear();
  };

  if (settings.start_barrier) settings.start_barrier();
  start_ns = MonotonicNs();
  if (settings.mode == LoadMode::kOpen) {
    schedule = std::make_unique<SharedSchedule>(settings, start_ns);
  }
  release(1);  // the release store orders start_ns and schedule before the workers read them

  auto total_completed = [&] {
    std::int64_t total = 0;
    for (const auto& worker : pool) total += worker->completed_published();
    return total;
  };
  LoadProgress progress;
  progress.relative_ci95 = std::numeric_limits<double>::infinity();
  const bool stop_on_failures = settings.stop_after_failures > 0 && !settings.fixed_window;
  auto failing = [&] {
    return stop_on_failures &&
           phase.failures_in_a_row.load(std::memory_order_relaxed) >= settings.stop_after_failures;
  };

  // Warm-up.
  const std::int64_t warmup_end_ns = start_ns + std::llround(settings.warmup_s * 1e9);
  std::int64_t last_progress_ns = start_ns;
  for (;;) {
    const std::int64_t now = MonotonicNs();
    if (cancelled()) {
      stop_and_join(now);
      return std::nullopt;
    }
    if (failing()) {
      stop_and_join(now);
      const auto first = std::find_if(pool.begin(), pool.end(), [](const auto& worker) {
        return worker->first_failure_status() != 0;
      });
      const std::int32_t status = (*first)->first_failure_status();
      const std::string& message = (*first)->first_failure_message();
      throw Error(static_cast<ErrorKind>(status - 1),
                  fmt::format("warm-up stopped: {} requests in a row failed; the first: {}",
                              settings.stop_after_failures, message));
    }
    if (now >= warmup_end_ns && total_completed() >= settings.warmup_requests) break;
    if (on_progress && now - last_progress_ns >= kProgressIntervalNs) {
      last_progress_ns = now;
      progress.elapsed_s = (now - start_ns) * 1e-9;
      on_progress(progress);
    }
    const std::int64_t poll_ns = settings.warmup_requests > 0 ? 1'000'000 : kMaxSleepNs;
    SleepUntil(now >= warmup_end_ns ? now + poll_ns : std::min(warmup_end_ns, now + poll_ns));
  }

  // Measured window: boundaries b_i = measure_start + i * sub_window.
  const std::int64_t measure_start_ns = MonotonicNs() + kPublishMarginNs;
  phase.measure_start_ns.store(measure_start_ns, std::memory_order_relaxed);
  SleepUntil(measure_start_ns);
  const CpuTimes cpu_start = ProcessCpuTimes();
  progress.measuring = true;

  std::vector<double> sums;
  auto summed_progress = [&] {
    int filled = max_boundaries;
    for (const auto& worker : pool) filled = std::min(filled, worker->boundaries_published());
    sums.assign(filled, 0.0);
    for (const auto& worker : pool) {
      for (int b = 0; b < filled; ++b) sums[b] += worker->progress(b);
    }
    return std::span<const double>(sums);
  };

  bool converged = false;
  int reported_windows = -1;
  std::string reason;
  std::int64_t stop_ns = kNever;
  while (stop_ns == kNever) {
    const std::span<const double> sum = summed_progress();
    const int windows = static_cast<int>(sum.size()) - 1;
    const ThroughputEstimate estimate =
        EstimateThroughput(sum, sub_window_ns * 1e-9, settings.sub_windows);
    const double window_s = std::max(0, windows) * sub_window_ns * 1e-9;
    const double requests = windows > 0 ? sum.back() - sum.front() : 0;
    const std::int64_t now = MonotonicNs();
    if (cancelled()) {
      stop_and_join(now);
      return std::nullopt;
    }
    // The first boundary at or after `t` that workers will certainly see in time.
    auto boundary_after = [&](std::int64_t t) {
      const std::int64_t earliest = std::max(t, now + kPublishMarginNs);
      const std::int64_t k = (earliest - measure_start_ns + sub_window_ns - 1) / sub_window_ns;
      return measure_start_ns + std::min<std::int64_t>(k, max_windows + 4) * sub_window_ns;
    };
    if (failing()) {
      reason = fmt::format("stopped early: {} requests in a row failed (stop_after_failures)",
                           settings.stop_after_failures);
      stop_ns = boundary_after(now);
    } else if (settings.fixed_window) {
      if (now + sub_window_ns >= measure_start_ns + settings.sub_windows * sub_window_ns) {
        stop_ns = boundary_after(measure_start_ns + settings.sub_windows * sub_window_ns);
      }
    } else if (windows >= settings.sub_windows && window_s >= settings.min_duration_s - 1e-9 &&
               requests >= settings.min_requests &&
               estimate.relative_ci95 <= settings.ci_fraction) {
      converged = true;
      reason =
          fmt::format("ci ±{:.2f}% <= ±{:.2f}% after {:.1f} s and {:.0f} requests",
                      100 * estimate.relative_ci95, 100 * settings.ci_fraction, window_s, requests);
      stop_ns = boundary_after(now);
    } else if (now + sub_window_ns >= measure_start_ns + max_duration_ns) {
      if (requests < settings.min_requests) {
        reason = fmt::format("max duration {} s reached with {:.0f} requests < min {}",
                             settings.max_duration_s, requests, settings.min_requests);
      } else if (windows < settings.sub_windows) {
        reason = fmt::format("max duration {} s reached with {} sub-windows < {}",
                             settings.max_duration_s, windows, settings.sub_windows);
      } else {
        reason = fmt::format("max duration {} s reached: ci ±{:.2f}% > ±{:.2f}%",
                             settings.max_duration_s, 100 * estimate.relative_ci95,
                             100 * settings.ci_fraction);
      }
      stop_ns = boundary_after(measure_start_ns + max_windows * sub_window_ns);
    }
    if (stop_ns != kNever) phase.stop_ns.store(stop_ns, std::memory_order_relaxed);
    // Report each new boundary, and at least every kProgressIntervalNs while waiting for one.
    if (on_progress && (windows != reported_windows || stop_ns != kNever ||
                        now - last_progress_ns >= kProgressIntervalNs)) {
      reported_windows = windows;
      last_progress_ns = now;
      progress.elapsed_s = (now - start_ns) * 1e-9;
      progress.window_s = window_s;
      progress.requests = requests;
      progress.requests_per_s = estimate.rate_per_s;
      progress.relative_ci95 = estimate.relative_ci95;
      on_progress(progress);
    }
    if (stop_ns == kNever) {
      const std::int64_t next_boundary = measure_start_ns + (windows + 1) * sub_window_ns;
      // A worker still in a request that spans the boundary reports it when that request ends.
      SleepUntil(std::clamp(next_boundary + 1'000'000, now + 2'000'000, now + kProgressIntervalNs));
    }
  }
  SleepUntil(stop_ns);
  const CpuTimes cpu_end = ProcessCpuTimes();
  threads.clear();  // the workers finish their in-flight requests and exit

  CellResult result;
  result.converged = converged;
  result.status = converged ? CellStatus::kOk : CellStatus::kNotConverged;
  result.convergence_reason = reason;
  result.warmup_duration_s = (measure_start_ns - start_ns) * 1e-9;
  result.duration_s = (stop_ns - measure_start_ns) * 1e-9;
  result.client_cpu_user_s = cpu_end.user_s - cpu_start.user_s;
  result.client_cpu_sys_s = cpu_end.sys_s - cpu_start.sys_s;

  std::int64_t errors_total = 0, sent_in_window = 0;
  std::int32_t first_status = 0;
  std::string first_message;
  std::int64_t error_counts[Worker::kStatusSlots] = {};
  for (const auto& worker : pool) {
    result.latency.Merge(worker->latency());
    result.send_lag.Merge(worker->send_lag());
    result.completed_requests += worker->completed_ok();
    result.warmup_requests += worker->warmup_completed();
    result.bytes_sent += worker->bytes_sent();
    result.bytes_received += worker->bytes_received();
    sent_in_window += worker->sent_in_window();
    for (int s = 1; s < Worker::kStatusSlots; ++s) {
      error_counts[s] += worker->error_counts()[s];
      errors_total += worker->error_counts()[s];
    }
    if (first_status == 0 && worker->first_error_status() != 0) {
      first_status = worker->first_error_status();
      first_message = worker->first_error_message();
    }
    result.raw_records.insert(result.raw_records.end(), worker->records().begin(),
                              worker->records().end());
    result.raw_records_truncated |= worker->records_truncated();
  }
  for (int s = 1; s < Worker::kStatusSlots; ++s) {
    if (error_counts[s] > 0) {
      result.errors[std::string(ErrorKindName(static_cast<ErrorKind>(s - 1)))] = error_counts[s];
    }
  }
  if (result.completed_requests == 0 && errors_total > 0) {
    throw Error(static_cast<ErrorKind>(first_status - 1),
                fmt::format("every request failed ({} of them); the first: {}", errors_total,
                            first_message));
  }
  std::sort(result.raw_records.begin(), result.raw_records.end(),
            [](const RequestRecord& a, const RequestRecord& b) {
              return a.scheduled_ns < b.scheduled_ns;
            });

  const int batch = target.batch();
  result.completed_inferences = result.completed_requests * batch;
  result.throughput_requests_per_s = result.completed_requests / result.duration_s;
  result.throughput_inferences_per_s = result.throughput_requests_per_s * batch;
  const auto stop_boundary = static_cast<std::size_t>((stop_ns - measure_start_ns) / sub_window_ns);
  const ThroughputEstimate final_estimate =
      EstimateThroughput(summed_progress().first(std::min(stop_boundary + 1, sums.size())),
                         sub_window_ns * 1e-9, settings.sub_windows);
  if (std::isfinite(final_estimate.relative_ci95)) {
    result.throughput_requests_per_s_ci95 =
        final_estimate.relative_ci95 * result.throughput_requests_per_s;
    result.throughput_inferences_per_s_ci95 = result.throughput_requests_per_s_ci95 * batch;
  }
  result.window_progress.assign(sums.begin(),
                                sums.begin() + std::min(stop_boundary + 1, sums.size()));
  result.sub_window_s = sub_window_ns * 1e-9;
  if (settings.fixed_window) {
    JudgeFixedWindow(settings, result);
  }

  if (settings.mode == LoadMode::kOpen) {
    // Replaying the seeded schedule gives exactly how many sends the window asked for. Past
    // 2 x workers + sent untaken arrivals the generator is certainly behind (see allowed_short),
    // so the count stops there.
    const SharedSchedule::WindowCount window = schedule->CountInWindow(
        measure_start_ns, stop_ns, 2 * static_cast<std::int64_t>(workers) + sent_in_window);
    // Requests still in flight at the stop are not counted as sent: allow one per worker.
    const auto allowed_short = std::max<std::int64_t>(
        workers, static_cast<std::int64_t>(0.01 * static_cast<double>(window.scheduled)));
    const double p99_lag_s = result.send_lag.Percentile(0.99) * 1e-9;
    if (window.truncated || window.scheduled - sent_in_window > allowed_short ||
        p99_lag_s > settings.max_send_lag_s) {
      result.generator_behind = true;
      result.convergence_reason += fmt::format(
          "; generator behind: sent {} of {}{} scheduled, p99 send lag {:.1f} us (limit {:.1f} "
          "us)",
          sent_in_window, window.truncated ? "more than " : "", window.scheduled, p99_lag_s * 1e6,
          settings.max_send_lag_s * 1e6);
    }
  }
  return result;
}

}  // namespace sonic
