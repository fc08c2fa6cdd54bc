#include "bench/loadgen/load_generator.h"

#include <sys/prctl.h>
#include <sys/resource.h>

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

#include "bench/loadgen/cell_accumulator.h"
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
// Longest sleep of a job in its event's work ("elsewhere"), between the boundaries it records.
constexpr std::int64_t kMaxWorkSleepNs = 100'000'000;
constexpr std::int64_t kProgressIntervalNs = 250'000'000;
constexpr double kMaxSubWindows = 100'000;

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

// The hand-over of one request's completion to the thread that waits for it: either inline (the
// target completed on the waiting thread, so nothing needs signalling) or from another thread,
// the completion's writes ordered before the wait's return by the state's release/acquire.
class CompletionSignal {
 public:
  void Arm() {
    inline_done_ = false;
    state_.store(kPending, std::memory_order_relaxed);
  }
  // Called by the completion once its results are written.
  void Signal(bool on_waiting_thread) {
    if (on_waiting_thread) {
      inline_done_ = true;
      return;
    }
    if (state_.exchange(kDone, std::memory_order_acq_rel) == kWaiting) state_.notify_one();
  }
  // Returns once Signal has run; true when it ran inline.
  bool Wait() {
    if (inline_done_) return true;
    std::uint32_t expected = kPending;
    if (state_.compare_exchange_strong(expected, kWaiting, std::memory_order_acq_rel)) {
      while (state_.load(std::memory_order_acquire) != kDone) {
        state_.wait(kWaiting, std::memory_order_acquire);
      }
    }
    return false;
  }

 private:
  static constexpr std::uint32_t kPending = 0, kWaiting = 1, kDone = 2;
  bool inline_done_ = false;
  std::atomic<std::uint32_t> state_{kPending};
};

// One of an async job's requests in flight. OnDone (inline or from the target's thread) only
// keeps the response; the job records it on its own thread once every request of the event is
// in, so that several completions never write the job's tally at once.
class EventSlot final : public CompletionHandler {
 public:
  explicit EventSlot(const void* owner) : owner_(owner) {}

  void Arm(const Request& request) {
    request_ = request;
    signal_.Arm();
  }

  void OnDone(const Request&, const Response& response) noexcept override {
    received_ns_ = MonotonicNs();
    response_ = response;
    response_.error_message = {};
    if (response.error) message_.assign(response.error_message);
    signal_.Signal(tls_worker == owner_);
  }

  void Wait() { signal_.Wait(); }

  // Valid after Wait().
  const Request& request() const { return request_; }
  Response response() const {
    Response response = response_;
    if (response.error) response.error_message = message_;
    return response;
  }
  std::int64_t received_ns() const { return received_ns_; }

 private:
  const void* const owner_;
  Request request_;
  Response response_;
  std::string message_;
  std::int64_t received_ns_ = 0;
  CompletionSignal signal_;
};

// One client worker. Everything it records is its own (no locks, no shared writes on the hot
// path); OnDone writes it either inline on the worker's thread or, for an asynchronous target,
// from the target's thread while the worker waits, the hand-over ordered by `signal_`.
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
        bound_ns_(settings.latency_bound ? settings.latency_bound->bound_ns : kNever),
        slots_per_job_(SlotsPerJob(settings)),
        progress_(max_boundaries, 0.0) {
    tally_.raw_records.reserve(record_cap);
  }

  // The target workers each job uses: requests_per_event in async mode, else 1.
  static int SlotsPerJob(const LoadSettings& settings) {
    return settings.workflow && settings.workflow->mode == ClientMode::kAsync
               ? settings.workflow->requests_per_event
               : 1;
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
      for (int slot = 0; slot < slots_per_job_; ++slot) {
        target_.PrepareWorker(index_ * slots_per_job_ + slot);
      }
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
    } else if (settings_.workflow) {
      RunEvents(*settings_.workflow);
    } else {
      RunClosedLoop();
    }
  }

  void OnDone(const Request& request, const Response& response) noexcept override {
    Complete(request, response, MonotonicNs());
    signal_.Signal(tls_worker == this);
  }

  // What a completion at `now` does to this worker's counts, progress and tally. On the worker's
  // thread, or on the target's while the worker waits (OnDone).
  void Complete(const Request& request, const Response& response, std::int64_t now) {
    received_ns_ = now;
    if (response.error) {
      phase_.failures_in_a_row.fetch_add(1, std::memory_order_relaxed);
      if (!first_failure_) {
        first_failure_ = response.error;
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
      ++tally_.warmup_requests;
    } else {
      RecordInWindow(request, response, now);
    }
  }

  std::exception_ptr error() const { return error_; }
  std::int64_t completed_published() const {
    return completed_published_.load(std::memory_order_relaxed);
  }
  int boundaries_published() const { return boundaries_published_.load(std::memory_order_acquire); }
  // With a latency bound: the window's finished requests, and those over it or failed.
  std::int64_t bound_requests_published() const {
    return bound_requests_published_.load(std::memory_order_relaxed);
  }
  std::int64_t over_bound_published() const {
    return over_bound_published_.load(std::memory_order_relaxed);
  }
  // Valid for indices below boundaries_published().
  double progress(int boundary) const { return progress_[boundary]; }

  // Read after the thread has been joined. What this worker measured, as the accumulator adds
  // it: histograms, counts, bytes, errors by kind and raw records.
  // Called once: the records move out.
  CellResult TakeTally() {
    for (int kind = 0; kind < kErrorKinds; ++kind) {
      if (error_counts_[kind] > 0) {
        tally_.errors[std::string(ErrorKindName(static_cast<ErrorKind>(kind)))] =
            error_counts_[kind];
      }
    }
    return std::move(tally_);
  }
  std::int64_t sent_in_window() const { return sent_in_window_; }
  std::int64_t errors_in_window() const {
    std::int64_t total = 0;
    for (std::int64_t count : error_counts_) total += count;
    return total;
  }
  std::optional<ErrorKind> first_error() const { return first_error_; }
  const std::string& first_error_message() const { return first_error_message_; }
  // The first failure at any time, warm-up included (first_error_*: in the window).
  std::optional<ErrorKind> first_failure() const { return first_failure_; }
  const std::string& first_failure_message() const { return first_failure_message_; }

 private:
  // Submits and returns once OnDone has run; true when it ran inline (no clock read needed).
  bool SubmitAndWait(const Request& request) {
    signal_.Arm();
    target_.Submit(request, *this);
    return signal_.Wait();
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

  // A job: per event, its own work and requests_per_event requests, sync (work, then the requests
  // one after another) or async (the requests sent at the start, collected after the work).
  void RunEvents(const EventWorkflow& flow) {
    WorkSampler sampler(flow.work, settings_.arrival_seed * 1'000'003 + index_);
    std::vector<std::unique_ptr<EventSlot>> slots;
    if (flow.mode == ClientMode::kAsync) {
      for (int i = 0; i < flow.requests_per_event; ++i) {
        slots.push_back(std::make_unique<EventSlot>(this));
      }
    }
    Request request;
    request.worker = index_;
    std::int64_t requests = 0;
    while (!finished_) {
      const std::int64_t start = MonotonicNs();
      const std::int64_t work_ns = sampler.NextNs();
      std::int64_t end = start, inference_ns = 0;
      if (flow.mode == ClientMode::kAsync) {
        for (std::size_t i = 0; i < slots.size(); ++i) {
          request.worker = index_ * slots_per_job_ + static_cast<int>(i);
          request.sample_index = requests++ * settings_.concurrency + index_;
          request.scheduled_ns = request.sent_ns = MonotonicNs();
          slots[i]->Arm(request);
          target_.Submit(slots[i]->request(), *slots[i]);
        }
        const std::int64_t sent = MonotonicNs();
        const bool worked = Work(flow.work.kind, work_ns, start, /*idle=*/false);
        const std::int64_t waiting = MonotonicNs();
        CollectSlots(slots);
        end = MonotonicNs();
        inference_ns = (sent - start) + (end - waiting);
        if (!worked) return;
      } else {
        if (!Work(flow.work.kind, work_ns, start, /*idle=*/true)) return;
        const std::int64_t worked = MonotonicNs();
        end = worked;
        for (int i = 0; i < flow.requests_per_event && !finished_; ++i) {
          request.sample_index = requests++ * settings_.concurrency + index_;
          request.scheduled_ns = request.sent_ns = end;
          end = SubmitAndWait(request) ? received_ns_ : MonotonicNs();
        }
        inference_ns = end - worked;
      }
      if (finished_) return;  // its last response came after the stop: not an event of the window
      RecordEvent(start, end, inference_ns);
    }
  }

  // The event's work from `start_ns`: false when the stop time came first (the event is
  // abandoned). `idle`: nothing of this job is in flight, so boundaries passing during the work
  // are recorded exactly as they pass.
  bool Work(EventWork::Kind kind, std::int64_t work_ns, std::int64_t start_ns, bool idle) {
    if (work_ns <= 0) return true;
    if (kind == EventWork::Kind::kCpu) {
      BurnCpu(work_ns);
      return MonotonicNs() < phase_.stop_ns.load(std::memory_order_relaxed);
    }
    const std::int64_t end = start_ns + work_ns;
    for (;;) {
      const std::int64_t now = MonotonicNs();
      const std::int64_t stop = phase_.stop_ns.load(std::memory_order_relaxed);
      if (now >= stop) {
        if (idle) FillIdle(stop);
        return false;
      }
      if (now >= end) return true;
      // Wake for the work's end, or the next boundary to record (the stop is one), or at least
      // every kMaxWorkSleepNs to learn of a stop; not more often, so that a thousand jobs cost
      // little.
      std::int64_t wake = std::min(end, now + kMaxWorkSleepNs);
      if (idle) {
        FillIdle(now);
        wake = std::min(wake, next_boundary_ns_);
      }
      SleepUntilNs(wake);
    }
  }

  // Waits for every request of the event, then records them in the order they completed.
  void CollectSlots(const std::vector<std::unique_ptr<EventSlot>>& slots) {
    std::vector<const EventSlot*> order;
    for (const auto& slot : slots) {
      slot->Wait();
      order.push_back(slot.get());
    }
    std::sort(order.begin(), order.end(), [](const EventSlot* a, const EventSlot* b) {
      return a->received_ns() < b->received_ns();
    });
    for (const EventSlot* slot : order) {
      Complete(slot->request(), slot->response(), slot->received_ns());
    }
  }

  void RecordEvent(std::int64_t start_ns, std::int64_t end_ns, std::int64_t inference_ns) {
    const std::int64_t window_start = phase_.measure_start_ns.load(std::memory_order_relaxed);
    if (window_start == kNever || end_ns < window_start) return;
    ++tally_.completed_events;
    tally_.event_time.Record(end_ns - start_ns);
    tally_.event_ns_total += end_ns - start_ns;
    tally_.event_inference_ns_total += inference_ns;
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
      SleepUntilNs(std::min(scheduled_ns - kSpinMarginNs, now + kMaxSleepNs));
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
    tally_.bytes_sent += response.bytes_sent;
    tally_.bytes_received += response.bytes_received;
    if (!response.error) {
      const std::int64_t latency_ns = now - request.scheduled_ns;
      tally_.latency.Record(latency_ns);
      if (bound_ns_ != kNever && latency_ns <= bound_ns_) ++tally_.within_bound_requests;
      if (open_loop_) tally_.send_lag.Record(request.sent_ns - request.scheduled_ns);
      ++tally_.completed_requests;
    } else {
      ++error_counts_[static_cast<int>(*response.error)];
      if (!first_error_) {
        first_error_ = response.error;
        first_error_message_.assign(response.error_message);
      }
    }
    if (bound_ns_ != kNever) {
      // Only this worker writes them: a plain increment, published for the stop rule.
      bound_requests_published_.store(++bound_requests_, std::memory_order_relaxed);
      over_bound_published_.store(bound_requests_ - tally_.within_bound_requests,
                                  std::memory_order_relaxed);
    }
    if (tally_.raw_records.size() < record_cap_) {
      tally_.raw_records.push_back(RequestRecord{
          request.scheduled_ns, request.sent_ns, now, index_, RecordStatusOf(response.error),
          response.server_queue_ns, response.server_compute_ns});
    } else {
      tally_.raw_records_truncated = true;
    }
  }

  const int index_;
  const LoadSettings& settings_;
  Target& target_;
  Phase& phase_;
  const std::int64_t sub_window_ns_;
  const std::size_t record_cap_;
  const bool open_loop_;
  const std::int64_t bound_ns_;  // kNever: no latency bound
  const int slots_per_job_;
  std::exception_ptr error_;

  // Hot, written by this worker's requests only.
  std::int64_t received_ns_ = 0;
  std::int64_t prev_done_ns_ = 0;
  std::int64_t completed_total_ = 0;
  std::int64_t next_boundary_ns_ = kNever;
  std::int64_t window_start_ns_ = kNever;
  int boundaries_filled_ = 0;
  bool finished_ = false;
  std::int64_t sent_in_window_ = 0;
  std::int64_t bound_requests_ = 0;  // in the window, with a latency bound
  CellResult tally_;  // latency, send lag, counts, bytes and records; errors in error_counts_
  std::int64_t error_counts_[kErrorKinds] = {};
  std::optional<ErrorKind> first_error_;
  std::string first_error_message_;
  std::optional<ErrorKind> first_failure_;
  std::string first_failure_message_;
  std::vector<double> progress_;

  // Read by the controller; on their own line so that its reads do not slow the hot fields.
  alignas(64) std::atomic<std::int64_t> completed_published_{0};
  std::atomic<std::int64_t> bound_requests_published_{0};
  std::atomic<std::int64_t> over_bound_published_{0};
  std::atomic<int> boundaries_published_{0};
  CompletionSignal signal_;
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

void ValidateLoadSettings(const LoadSettings& s) {
  auto bad = [](std::string_view what, auto value, std::string_view expected) {
    Throw(ErrorKind::kInvalidArgument, "{} = {}: expected {}", what, value, expected);
  };
  if (s.concurrency < 1 || s.concurrency > kMaxConcurrency) {
    bad("concurrency", s.concurrency, fmt::format("1 to {} in one process", kMaxConcurrency));
  }
  if (s.latency_bound && !(s.latency_bound->bound_ns > 0)) {
    bad("latency_bound_ms", static_cast<double>(s.latency_bound->bound_ns) * 1e-6, "more than 0");
  }
  if (s.latency_bound && !(s.latency_bound->percentile > 0 && s.latency_bound->percentile < 100)) {
    bad("latency_percentile", s.latency_bound->percentile, "more than 0 and less than 100");
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
  if (s.workflow) {
    if (s.mode != LoadMode::kClosed) {
      bad("mode", LoadModeName(s.mode), "closed for a client workflow (event_work): jobs");
    }
    const int r = s.workflow->requests_per_event;
    if (r < 1 || r > kMaxRequestsPerEvent) {
      bad("requests_per_event", r, fmt::format("1 to {}", kMaxRequestsPerEvent));
    }
    if (s.workflow->mode == ClientMode::kAsync &&
        static_cast<std::int64_t>(s.concurrency) * r > kMaxConcurrency) {
      bad("concurrency x requests_per_event", static_cast<std::int64_t>(s.concurrency) * r,
          fmt::format("at most {} requests in flight in async mode", kMaxConcurrency));
    }
  }
}

bool LatencyBoundCertainlyMissed(std::int64_t requests, std::int64_t over_bound,
                                 double percentile) {
  if (requests <= 0) return false;
  constexpr double kZ = 2.576;
  const double n = static_cast<double>(requests);
  const double f = static_cast<double>(over_bound) / n;
  const double lower =
      (f + kZ * kZ / (2 * n) - kZ * std::sqrt(f * (1 - f) / n + kZ * kZ / (4 * n * n))) /
      (1 + kZ * kZ / n);
  return lower > 1 - percentile / 100;
}

StopDecision DecideStop(const LoadSettings& settings, std::int64_t sub_window_ns,
                        const WindowLook& look) {
  using Outcome = StopDecision::Outcome;
  const double window_s = std::max(0, look.windows) * sub_window_ns * 1e-9;
  const auto max_duration_ns = std::llround(settings.max_duration_s * 1e9);
  const std::int64_t max_windows = (max_duration_ns + sub_window_ns - 1) / sub_window_ns;
  const double ci = look.estimate.relative_ci95;
  if (look.failing) {
    return {Outcome::kFailures, look.elapsed_ns,
            fmt::format("stopped early: {} requests in a row failed (stop_after_failures)",
                        settings.stop_after_failures)};
  }
  if (settings.latency_bound && look.windows >= 1 &&
      LatencyBoundCertainlyMissed(look.bound_requests, look.over_bound,
                                  settings.latency_bound->percentile)) {
    return {Outcome::kBoundMissed, look.elapsed_ns,
            fmt::format("stopped early: {} of {} requests over {:g} ms, so p{:g} cannot be within "
                        "it (99% confidence)",
                        look.over_bound, look.bound_requests,
                        static_cast<double>(settings.latency_bound->bound_ns) * 1e-6,
                        settings.latency_bound->percentile)};
  }
  if (settings.fixed_window) {
    const std::int64_t end_ns = settings.sub_windows * sub_window_ns;
    if (look.elapsed_ns + sub_window_ns >= end_ns) return {Outcome::kFixedWindow, end_ns, ""};
    return {};
  }
  if (look.windows >= settings.sub_windows && window_s >= settings.min_duration_s - 1e-9 &&
      look.requests >= static_cast<double>(settings.min_requests) && ci <= settings.ci_fraction) {
    return {Outcome::kConverged, look.elapsed_ns,
            fmt::format("ci ±{:.2f}% <= ±{:.2f}% after {:.1f} s and {:.0f} requests", 100 * ci,
                        100 * settings.ci_fraction, window_s, look.requests)};
  }
  if (look.elapsed_ns + sub_window_ns < max_duration_ns) return {};
  std::string reason;
  if (look.requests < static_cast<double>(settings.min_requests)) {
    reason = fmt::format("max duration {} s reached with {:.0f} requests < min {}",
                         settings.max_duration_s, look.requests, settings.min_requests);
  } else if (look.windows < settings.sub_windows) {
    reason = fmt::format("max duration {} s reached with {} sub-windows < {}",
                         settings.max_duration_s, look.windows, settings.sub_windows);
  } else {
    reason = fmt::format("max duration {} s reached: ci ±{:.2f}% > ±{:.2f}%",
                         settings.max_duration_s, 100 * ci, 100 * settings.ci_fraction);
  }
  return {Outcome::kMaxDuration, max_windows * sub_window_ns, reason};
}

namespace {

// One cell's run, in phases: Start (setup, worker threads, prepare, start barrier), WarmUp,
// Measure (the stop rule at every sub-window boundary) and Collect (the workers' tallies summed by
// the CellAccumulator). The controlling thread runs every phase; workers run Worker::Body.
class LoadRunner {
 public:
  LoadRunner(Target& target, const LoadSettings& settings, const std::atomic<bool>* cancel,
             const std::function<void(const LoadProgress&)>& on_progress)
      : target_(target),
        settings_(settings),
        cancel_(cancel),
        on_progress_(on_progress),
        workers_(settings.concurrency),
        sub_window_ns_(std::max<std::int64_t>(
            1, std::llround(settings.min_duration_s / settings.sub_windows * 1e9))),
        max_duration_ns_(std::llround(settings.max_duration_s * 1e9)),
        max_windows_(static_cast<int>((max_duration_ns_ + sub_window_ns_ - 1) / sub_window_ns_)),
        // Boundaries 0..max_windows, plus room for the few a late stop can add.
        max_boundaries_(max_windows_ + 8),
        ready_(workers_) {
    progress_.relative_ci95 = std::numeric_limits<double>::infinity();
  }

  // Whatever ends the run early (a cancel, an exception) stops the workers before the threads
  // are joined.
  ~LoadRunner() {
    phase_.stop_ns.store(0, std::memory_order_relaxed);
    if (phase_.go.load() == 0) phase_.go.store(2);
    phase_.go.notify_all();
    threads_.clear();
  }

  std::optional<CellResult> Run() {
    Start();
    if (!WarmUp() || !Measure()) return std::nullopt;
    return Collect();
  }

 private:
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }

  void Release(int go) {
    phase_.go.store(go, std::memory_order_release);
    phase_.go.notify_all();
  }

  void StopAndJoin(std::int64_t stop_ns) {
    phase_.stop_ns.store(stop_ns, std::memory_order_relaxed);
    threads_.clear();
  }

  std::int64_t TotalCompleted() const {
    std::int64_t total = 0;
    for (const auto& worker : pool_) total += worker->completed_published();
    return total;
  }

  bool Failing() const {
    return settings_.stop_after_failures > 0 && !settings_.fixed_window &&
           phase_.failures_in_a_row.load(std::memory_order_relaxed) >=
               settings_.stop_after_failures;
  }

  void Report(std::int64_t now) {
    last_progress_ns_ = now;
    progress_.elapsed_s = (now - start_ns_) * 1e-9;
    on_progress_(progress_);
  }

  void Start() {
    const EventWorkflow* flow = settings_.workflow ? &*settings_.workflow : nullptr;
    if (flow != nullptr && flow->work.kind == EventWork::Kind::kCpu) CalibrateCpuWork();
    const int slots =
        flow != nullptr && flow->mode == ClientMode::kAsync ? flow->requests_per_event : 1;
    target_.Setup(workers_ * slots);
    for (int w = 0; w < workers_; ++w) {
      pool_.push_back(std::make_unique<Worker>(w, settings_, target_, phase_, sub_window_ns_,
                                               max_boundaries_,
                                               settings_.raw_record_cap / workers_));
    }
    for (int w = 0; w < workers_; ++w) {
      threads_.emplace_back([this, w] { pool_[w]->Body(ready_, schedule_, start_ns_); });
    }
    ready_.wait();
    for (const auto& worker : pool_) {
      if (worker->error()) {
        Release(2);
        threads_.clear();  // joins
        std::rethrow_exception(worker->error());
      }
    }
    if (settings_.start_barrier) settings_.start_barrier();
    start_ns_ = MonotonicNs();
    if (settings_.mode == LoadMode::kOpen) {
      schedule_ = std::make_unique<SharedSchedule>(settings_, start_ns_);
    }
    Release(1);  // the release store orders start_ns_ and schedule_ before the workers read them
    last_progress_ns_ = start_ns_;
  }

  // False when cancelled. Throws when stop_after_failures requests in a row failed.
  bool WarmUp() {
    const std::int64_t warmup_end_ns = start_ns_ + std::llround(settings_.warmup_s * 1e9);
    for (;;) {
      const std::int64_t now = MonotonicNs();
      if (cancelled()) {
        StopAndJoin(now);
        return false;
      }
      if (Failing()) {
        StopAndJoin(now);
        const auto first = std::find_if(pool_.begin(), pool_.end(), [](const auto& worker) {
          return worker->first_failure().has_value();
        });
        throw Error(*(*first)->first_failure(),
                    fmt::format("warm-up stopped: {} requests in a row failed; the first: {}",
                                settings_.stop_after_failures, (*first)->first_failure_message()));
      }
      if (now >= warmup_end_ns && TotalCompleted() >= settings_.warmup_requests) return true;
      if (on_progress_ && now - last_progress_ns_ >= kProgressIntervalNs) Report(now);
      const std::int64_t poll_ns = settings_.warmup_requests > 0 ? 1'000'000 : kMaxSleepNs;
      SleepUntilNs(now >= warmup_end_ns ? now + poll_ns : std::min(warmup_end_ns, now + poll_ns));
    }
  }

  std::span<const double> SummedProgress() {
    int filled = max_boundaries_;
    for (const auto& worker : pool_) filled = std::min(filled, worker->boundaries_published());
    sums_.assign(filled, 0.0);
    for (const auto& worker : pool_) {
      for (int b = 0; b < filled; ++b) sums_[b] += worker->progress(b);
    }
    return std::span<const double>(sums_);
  }

  // Measured window: boundaries b_i = measure_start + i * sub_window. False when cancelled.
  bool Measure() {
    measure_start_ns_ = MonotonicNs() + kPublishMarginNs;
    phase_.measure_start_ns.store(measure_start_ns_, std::memory_order_relaxed);
    SleepUntilNs(measure_start_ns_);
    cpu_start_ = ProcessCpuTimes();
    progress_.measuring = true;
    int reported_windows = -1;
    while (stop_ns_ == kNever) {
      const std::span<const double> sum = SummedProgress();
      WindowLook look;
      look.windows = static_cast<int>(sum.size()) - 1;
      look.estimate = EstimateThroughput(sum, sub_window_ns_ * 1e-9, settings_.sub_windows);
      look.requests = look.windows > 0 ? sum.back() - sum.front() : 0;
      const std::int64_t now = MonotonicNs();
      look.elapsed_ns = now - measure_start_ns_;
      look.failing = Failing();
      for (const auto& worker : pool_) {
        look.bound_requests += worker->bound_requests_published();
        look.over_bound += worker->over_bound_published();
      }
      if (cancelled()) {
        StopAndJoin(now);
        return false;
      }
      const StopDecision decision = DecideStop(settings_, sub_window_ns_, look);
      if (decision.outcome != StopDecision::Outcome::kContinue) {
        converged_ = decision.outcome == StopDecision::Outcome::kConverged;
        reason_ = decision.reason;
        // The first boundary at or after the decision's time that workers will certainly see.
        const std::int64_t earliest =
            std::max(measure_start_ns_ + decision.stop_at_ns, now + kPublishMarginNs);
        const std::int64_t k = (earliest - measure_start_ns_ + sub_window_ns_ - 1) / sub_window_ns_;
        stop_ns_ = measure_start_ns_ + std::min<std::int64_t>(k, max_windows_ + 4) * sub_window_ns_;
        phase_.stop_ns.store(stop_ns_, std::memory_order_relaxed);
      }
      // Report each new boundary, and at least every kProgressIntervalNs while waiting for one.
      if (on_progress_ && (look.windows != reported_windows || stop_ns_ != kNever ||
                           now - last_progress_ns_ >= kProgressIntervalNs)) {
        reported_windows = look.windows;
        progress_.window_s = std::max(0, look.windows) * sub_window_ns_ * 1e-9;
        progress_.requests = look.requests;
        progress_.requests_per_s = look.estimate.rate_per_s;
        progress_.relative_ci95 = look.estimate.relative_ci95;
        Report(now);
      }
      if (stop_ns_ == kNever) {
        const std::int64_t next_boundary = measure_start_ns_ + (look.windows + 1) * sub_window_ns_;
        // A worker still in a request that spans the boundary reports it when that request ends.
        SleepUntilNs(
            std::clamp(next_boundary + 1'000'000, now + 2'000'000, now + kProgressIntervalNs));
      }
    }
    SleepUntilNs(stop_ns_);
    cpu_end_ = ProcessCpuTimes();
    threads_.clear();  // the workers finish their in-flight requests and exit
    return true;
  }

  CellResult Collect() {
    CellAccumulator accumulator;
    std::int64_t errors_total = 0, sent_in_window = 0;
    std::optional<ErrorKind> first_error;
    std::string first_message;
    for (const auto& worker : pool_) {
      accumulator.Add(worker->TakeTally());
      sent_in_window += worker->sent_in_window();
      errors_total += worker->errors_in_window();
      if (!first_error && worker->first_error()) {
        first_error = worker->first_error();
        first_message = worker->first_error_message();
      }
    }
    CellResult result = accumulator.Finish();
    if (result.completed_requests == 0 && errors_total > 0) {
      throw Error(*first_error, fmt::format("every request failed ({} of them); the first: {}",
                                            errors_total, first_message));
    }
    result.converged = converged_;
    result.status = converged_ ? CellStatus::kOk : CellStatus::kNotConverged;
    result.convergence_reason = reason_;
    result.warmup_duration_s = (measure_start_ns_ - start_ns_) * 1e-9;
    result.duration_s = (stop_ns_ - measure_start_ns_) * 1e-9;
    result.client_cpu_user_s = cpu_end_.user_s - cpu_start_.user_s;
    result.client_cpu_sys_s = cpu_end_.sys_s - cpu_start_.sys_s;

    const int batch = target_.batch();
    result.completed_inferences = result.completed_requests * batch;
    result.throughput_requests_per_s = result.completed_requests / result.duration_s;
    result.throughput_inferences_per_s = result.throughput_requests_per_s * batch;
    result.throughput_events_per_s = result.completed_events / result.duration_s;
    const auto stop_boundary =
        static_cast<std::size_t>((stop_ns_ - measure_start_ns_) / sub_window_ns_);
    const ThroughputEstimate estimate =
        EstimateThroughput(SummedProgress().first(std::min(stop_boundary + 1, sums_.size())),
                           sub_window_ns_ * 1e-9, settings_.sub_windows);
    if (std::isfinite(estimate.relative_ci95)) {
      result.throughput_requests_per_s_ci95 =
          estimate.relative_ci95 * result.throughput_requests_per_s;
      result.throughput_inferences_per_s_ci95 = result.throughput_requests_per_s_ci95 * batch;
    }
    result.window_progress.assign(sums_.begin(),
                                  sums_.begin() + std::min(stop_boundary + 1, sums_.size()));
    result.sub_window_s = sub_window_ns_ * 1e-9;
    if (settings_.fixed_window) JudgeFixedWindow(settings_, result);
    if (settings_.mode == LoadMode::kOpen) JudgeSchedule(sent_in_window, result);
    return result;
  }

  // Open loop: whether the generator kept its schedule. Replaying the seeded schedule gives
  // exactly how many sends the window asked for. Past 2 x workers + sent untaken arrivals the
  // generator is certainly behind (see allowed_short), so the count stops there.
  void JudgeSchedule(std::int64_t sent_in_window, CellResult& result) {
    const SharedSchedule::WindowCount window = schedule_->CountInWindow(
        measure_start_ns_, stop_ns_, 2 * static_cast<std::int64_t>(workers_) + sent_in_window);
    // Requests still in flight at the stop are not counted as sent: allow one per worker.
    const auto allowed_short = std::max<std::int64_t>(
        workers_, static_cast<std::int64_t>(0.01 * static_cast<double>(window.scheduled)));
    const double p99_lag_s = result.send_lag.Percentile(0.99) * 1e-9;
    if (window.truncated || window.scheduled - sent_in_window > allowed_short ||
        p99_lag_s > settings_.max_send_lag_s) {
      result.generator_behind = true;
      result.convergence_reason += fmt::format(
          "; generator behind: sent {} of {}{} scheduled, p99 send lag {:.1f} us (limit {:.1f} "
          "us)",
          sent_in_window, window.truncated ? "more than " : "", window.scheduled, p99_lag_s * 1e6,
          settings_.max_send_lag_s * 1e6);
    }
  }

  Target& target_;
  const LoadSettings& settings_;
  const std::atomic<bool>* cancel_;
  const std::function<void(const LoadProgress&)>& on_progress_;
  const int workers_;
  const std::int64_t sub_window_ns_;
  const std::int64_t max_duration_ns_;
  const int max_windows_;
  const int max_boundaries_;

  Phase phase_;
  std::vector<std::unique_ptr<Worker>> pool_;
  std::unique_ptr<SharedSchedule> schedule_;
  std::int64_t start_ns_ = 0;
  std::latch ready_;
  std::vector<std::jthread> threads_;

  LoadProgress progress_;
  std::int64_t last_progress_ns_ = 0;
  std::int64_t measure_start_ns_ = 0;
  std::int64_t stop_ns_ = kNever;
  bool converged_ = false;
  std::string reason_;
  std::vector<double> sums_;
  CpuTimes cpu_start_, cpu_end_;
};

}  // namespace

std::optional<CellResult> RunLoad(Target& target, const LoadSettings& settings,
                                  const std::atomic<bool>* cancel,
                                  const std::function<void(const LoadProgress&)>& on_progress) {
  ValidateLoadSettings(settings);
  return LoadRunner(target, settings, cancel, on_progress).Run();
}

}  // namespace sonic
