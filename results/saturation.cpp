#include "results/saturation.h"

#include <algorithm>
#include <map>

namespace sonic {

Saturation AnalyseSaturation(std::span<const SaturationPoint> points, double latency_budget_ns,
                             double cores_per_job) {
  Saturation s;
  if (points.empty()) return s;
  std::vector<SaturationPoint> sorted(points.begin(), points.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const SaturationPoint& a, const SaturationPoint& b) { return a.jobs < b.jobs; });
  for (const SaturationPoint& p : sorted) {
    if (p.throughput_per_s > s.plateau_per_s) {
      s.plateau_per_s = p.throughput_per_s;
      s.plateau_jobs = p.jobs;
    }
  }
  for (const SaturationPoint& p : sorted) {
    if (p.throughput_per_s >= kKneeFraction * s.plateau_per_s) {
      s.knee_jobs = p.jobs;
      break;
    }
  }
  if (latency_budget_ns > 0) {
    for (const SaturationPoint& p : sorted) {
      if (p.p99_ns <= latency_budget_ns) {
        s.jobs_within_budget = p.jobs;
        s.throughput_within_budget_per_s = p.throughput_per_s;
      }
    }
  }
  s.cores_per_accelerator =
      static_cast<double>(s.jobs_within_budget.value_or(s.knee_jobs)) * cores_per_job;
  return s;
}

std::vector<SaturationSeries> SaturationSeriesOf(const std::vector<CellRecord>& cells,
                                                 std::size_t min_points) {
  std::map<std::string, std::size_t> index;
  std::vector<SaturationSeries> series;
  for (const CellRecord& cell : cells) {
    if (cell.result.status == CellStatus::kFailed || cell.settings.mode != LoadMode::kClosed)
      continue;
    CellSettings identity = cell.settings;
    identity.concurrency = 0;
    identity.threads = 0;
    const auto [it, added] = index.emplace(identity.Key(), series.size());
    if (added) series.push_back({cell.settings, {}});
    const CellResult& r = cell.result;
    const bool events = !cell.settings.event_work.empty();
    series[it->second].points.push_back(
        {cell.settings.concurrency,
         events ? r.throughput_events_per_s : r.throughput_inferences_per_s,
         r.latency.Percentile(0.5), r.latency.Percentile(0.99)});
  }
  std::vector<SaturationSeries> kept;
  for (SaturationSeries& s : series) {
    std::sort(s.points.begin(), s.points.end(),
              [](const SaturationPoint& a, const SaturationPoint& b) { return a.jobs < b.jobs; });
    if (s.points.size() >= min_points) kept.push_back(std::move(s));
  }
  return kept;
}

}  // namespace sonic
