#pragma once

// Saturation of a service against the number of client jobs (issue 17 §4, docs/SIZING.md): from
// one series of cells that differ only in concurrency, the plateau, the knee, the jobs one
// accelerator serves within a latency budget and the CPU cores those jobs stand for. Pure
// functions.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "results/cell.h"

namespace sonic {

struct SaturationPoint {
  std::int64_t jobs = 0;
  double throughput_per_s = 0;  // events/s for client workflows, else inferences/s
  double p50_ns = 0;            // request latency
  double p99_ns = 0;
};

struct Saturation {
  double plateau_per_s = 0;       // the highest throughput of the series
  std::int64_t plateau_jobs = 0;  // where it was reached
  // The fewest jobs reaching kKneeFraction of the plateau: past it, more jobs mostly queue.
  std::int64_t knee_jobs = 0;
  // The most jobs whose p99 stays within the budget (none asked, or none within it: nullopt), and
  // the throughput they reach.
  std::optional<std::int64_t> jobs_within_budget;
  double throughput_within_budget_per_s = 0;
  // The CPU cores the jobs one accelerator serves stand for: jobs within the budget (else the
  // knee) x cores per job.
  double cores_per_accelerator = 0;
};
inline constexpr double kKneeFraction = 0.9;

// `points` in any order, jobs distinct and at least 1; an empty series gives a zero Saturation.
// `latency_budget_ns` <= 0: no budget.
Saturation AnalyseSaturation(std::span<const SaturationPoint> points, double latency_budget_ns,
                             double cores_per_job);

// The cells of a run as series: cells whose settings differ only in concurrency (and the threads
// that auto-sizing derives from it), each series sorted by jobs, only series of at least
// `min_points` successful cells. Each series is named by its first cell.
struct SaturationSeries {
  CellSettings first;
  std::vector<SaturationPoint> points;
};
std::vector<SaturationSeries> SaturationSeriesOf(const std::vector<CellRecord>& cells,
                                                 std::size_t min_points = 3);

}  // namespace sonic
