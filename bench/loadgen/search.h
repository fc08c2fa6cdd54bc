#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "results/cell.h"

namespace sonic {

// A latency-bound search (MLPerf LoadGen's Server scenario; docs/SWEEP.md "Latency-bound
// search"): the highest Poisson rate, or the most jobs, whose chosen latency percentile stays
// within a bound. The value doubles from `low` until a probe misses the bound (or `high` is
// reached), then the gap between the highest value that met it and the lowest above it that
// missed is halved until it is within `tolerance` of the former (one job for a jobs search), or
// `max_probes` probes ran. A final confirmation run repeats the value found.
struct SearchPlan {
  SearchOver over = SearchOver::kRate;
  double low = 0;   // Hz or jobs; > 0
  double high = 0;  // >= low
  double tolerance = 0.05;
  int max_probes = 24;
  // A local jobs search with automatic threads: the CPUs a probe's jobs share (threads per job =
  // max(1, cpus / jobs), as the sweep sizes every cell); 0 otherwise.
  std::int64_t auto_thread_cpus = 0;
};

struct SearchProbe {
  double value = 0;
  bool met = false;
};

// The next value to probe after `probes` (in the order they ran), or nullopt when the search is
// over. Jobs are whole numbers. Pure.
std::optional<double> NextSearchValue(const SearchPlan& plan, std::span<const SearchProbe> probes);

// The search's answer: the highest probed value that met the bound below every value that missed
// it; nullopt when none met it. Pure.
std::optional<double> SearchAnswer(std::span<const SearchProbe> probes);

// LoadGen's verdict on a measured cell with a latency bound: sets result.bound_met and
// bound_verdict_reason. The bound is met when the cell did not fail, kept its schedule (open
// loop), finished at least `min_requests` requests, and at least `percentile` % of them (failed
// ones count against it) completed within `bound_ms`. Pure.
void JudgeLatencyBound(double bound_ms, double percentile, std::int64_t min_requests,
                       CellResult& result);

}  // namespace sonic
