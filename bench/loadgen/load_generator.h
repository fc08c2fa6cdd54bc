#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "bench/loadgen/arrival.h"
#include "bench/loadgen/convergence.h"
#include "bench/loadgen/cpu_set.h"
#include "bench/loadgen/event_work.h"
#include "bench/loadgen/target.h"
#include "results/cell.h"

namespace sonic {

// Client workers in one process: each keeps two latency histograms (70 KB) and a thread; a fleet
// of processes under MPI (docs/FLEET.md) goes further.
inline constexpr int kMaxConcurrency = 4'096;
// Open-loop rates above this cannot be kept by one process (a send costs well over 100 ns); a
// fleet goes further.
inline constexpr double kMaxRateHz = 1e7;

// How one cell is driven and when its measured window ends. Durations in seconds.
struct LoadSettings {
  LoadMode mode = LoadMode::kClosed;
  // Client workers, each with at most one request in flight. Closed: the clients. Open: the most
  // requests in flight at once (a scheduled request waits for a free worker; that wait is send lag
  // and counts in its latency). Offline: the workers that keep the queue full.
  int concurrency = 1;
  double rate_hz = 0;  // open only
  ArrivalProcess arrival = ArrivalProcess::kConstant;
  std::uint64_t arrival_seed = 1;  // and of each job's event work (+ the job's index)
  // Closed loop only: each client is a job processing events (event_work.h). In async mode a job
  // has requests_per_event requests in flight at once: the target is set up for concurrency x
  // requests_per_event workers, job j using workers j x requests_per_event onwards.
  std::optional<EventWorkflow> workflow;
  // A latency bound (a latency-bound search's): the window counts the requests that completed
  // within bound_ns (CellResult::within_bound_requests), and ends early once at least
  // `percentile` % of them cannot be (LatencyBoundCertainlyMissed).
  struct LatencyBound {
    std::int64_t bound_ns = 0;
    double percentile = 99;  // in (0, 100)
  };
  std::optional<LatencyBound> latency_bound;

  // Warm-up ends when both are met (0 disables one).
  double warmup_s = 1.0;
  std::int64_t warmup_requests = 0;

  // The measured window ends at the first sub-window boundary where it has lasted min_duration_s,
  // holds min_requests completions and the 95% CI of throughput (batch means, at least
  // sub_windows batches) is within ±ci_fraction of it (converged); or at max_duration_s (not
  // converged, with the reason). Sub-windows are min_duration_s / sub_windows long.
  double min_duration_s = 5.0;
  std::int64_t min_requests = 100;
  double max_duration_s = 60.0;
  double ci_fraction = 0.05;
  int sub_windows = 10;
  // Once this many requests in a row (in completion order, over all workers) have failed, the
  // target is taken to be down and the cell stops at the next sub-window boundary instead of
  // running to max_duration_s; during warm-up the cell fails at once. 0: never. Not applied to a
  // fixed window, whose span every process of a fleet must share.
  std::int64_t stop_after_failures = 16;

  std::size_t raw_record_cap = kDefaultRawRecordCap;  // split evenly between the workers
  // Open loop: the generator is "behind" when the p99 send lag exceeds this or it sent more than
  // 1% fewer requests than were scheduled in the window.
  double max_send_lag_s = 1e-3;

  CpuList client_cpus;   // worker threads; empty: not pinned
  CpuList backend_cpus;  // threads the backend spawns in PrepareWorker; empty: not pinned

  // Set by a fleet of client processes (bench/fleet/). `start_barrier` is called on the
  // controlling thread once every worker is prepared, just before the load starts, so that all
  // processes start together: it blocks until they do and throws sonic::Error to fail the cell.
  // Empty: start at once.
  std::function<void()> start_barrier;
  // The window lasts min_duration_s (sub_windows sub-windows; more when the controller wakes too
  // late to publish the end in time) whatever the stop rule would say, so that every process
  // measures the same span; max_duration_s is not used, and convergence (min_requests,
  // ci_fraction) is judged at the end.
  bool fixed_window = false;
};

// Throws Error(kInvalidArgument) naming the first bad field and its accepted range.
void ValidateLoadSettings(const LoadSettings& settings);

// A snapshot for progress displays, taken at each sub-window boundary (and at least every 250 ms).
struct LoadProgress {
  bool measuring = false;     // false during warm-up
  double elapsed_s = 0;       // since the workers started
  double window_s = 0;        // measured so far
  double requests = 0;        // completed in the window so far
  double requests_per_s = 0;  // throughput estimate
  double relative_ci95 = 0;   // its CI half-width / estimate; infinite until known
};

// What the controller sees of the measured window at one look, for the stop rule.
struct WindowLook {
  int windows = 0;      // complete sub-windows
  double requests = 0;  // completions in them
  ThroughputEstimate estimate;
  std::int64_t elapsed_ns = 0;  // since the window started
  bool failing = false;         // stop_after_failures requests in a row failed
  // With a latency bound: the window's finished requests so far, and those over the bound (or
  // failed).
  std::int64_t bound_requests = 0;
  std::int64_t over_bound = 0;
};

// Whether `over_bound` of `requests` over a latency bound show, with 99% confidence, that more
// than (100 - percentile) % of all requests are: the lower end of the Wilson score interval of
// the observed fraction (z = 2.576) is above it. Pure; false without requests.
bool LatencyBoundCertainlyMissed(std::int64_t requests, std::int64_t over_bound, double percentile);

// The stop rule's verdict. `stop_at_ns` (since the window started) is the earliest time the window
// may end; the controller ends it at the first sub-window boundary it can still publish after that.
struct StopDecision {
  enum class Outcome {
    kContinue,
    kConverged,    // min duration, min requests and CI met
    kMaxDuration,  // not converged
    kFailures,     // stop_after_failures in a row
    kFixedWindow,  // a fleet's fixed window is over (judged afterwards by JudgeFixedWindow)
    kBoundMissed,  // the latency bound cannot be met (LatencyBoundCertainlyMissed): not converged
  };
  Outcome outcome = Outcome::kContinue;
  std::int64_t stop_at_ns = 0;
  std::string reason;
};

// The stop rule (docs/SWEEP.md) as a pure function of the settings, the sub-window length and one
// look at the window.
StopDecision DecideStop(const LoadSettings& settings, std::int64_t sub_window_ns,
                        const WindowLook& look);

// Runs one cell against `target`: Setup, one thread per worker (pinned, PrepareWorker), warm-up,
// measured window, then the per-worker histograms and records merged exactly. Blocks the calling
// thread, which controls the cell and sleeps between sub-window boundaries.
// Hot path per request: two monotonic clock reads at most (closed loop reuses a completion time as
// the next send time), one O(1) histogram record, stores to the worker's own cache lines and a load
// of the read-mostly phase line; open loop adds one uncontended mutex to take its arrival time.
// Returns the result with status kOk (converged) or kNotConverged; std::nullopt when `cancel`
// became true (the cell is abandoned after its in-flight requests complete). Throws what the
// target's setup threw, or Error(kind of the first failure) when every measured request failed or
// stop_after_failures requests in a row failed during warm-up.
std::optional<CellResult> RunLoad(Target& target, const LoadSettings& settings,
                                  const std::atomic<bool>* cancel = nullptr,
                                  const std::function<void(const LoadProgress&)>& on_progress = {});

// Judges a fixed window (LoadSettings::fixed_window) from result.window_progress, sub_window_s
// and completed_requests: sets converged, status (unless failed) and convergence_reason. A fleet
// calls it again on the merged result.
void JudgeFixedWindow(const LoadSettings& settings, CellResult& result);

}  // namespace sonic
