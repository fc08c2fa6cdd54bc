// Saturation analysis against the closed-loop queueing model it summarises: with work Z and
// service time S, N jobs reach X(N) = min(N / (Z + S), 1 / S) and, past the knee, a response
// time R(N) = N x S - Z (the response time law R = N / X - Z).
#include "results/saturation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace sonic {
namespace {

constexpr double kWorkS = 8e-3, kServiceS = 2e-3;

std::vector<SaturationPoint> ClosedLoop(int max_jobs) {
  std::vector<SaturationPoint> points;
  for (int n = max_jobs; n >= 1; --n) {  // any order
    const double throughput = std::min(n / (kWorkS + kServiceS), 1 / kServiceS);
    const double response_s = std::max(kServiceS, n * kServiceS - kWorkS);
    points.push_back({n, throughput, response_s * 1e9, response_s * 1e9});
  }
  return points;
}

TEST(Saturation, PlateauKneeAndBudgetOfTheClosedLoopModel) {
  const std::vector<SaturationPoint> points = ClosedLoop(16);
  const Saturation s = AnalyseSaturation(points, /*latency_budget_ns=*/11e6, /*cores_per_job=*/1);
  EXPECT_DOUBLE_EQ(s.plateau_per_s, 500);
  EXPECT_EQ(s.plateau_jobs, 5);  // the first to reach it: N* = (Z + S) / S
  EXPECT_EQ(s.knee_jobs, 5);     // 4 jobs give 400/s, under 90% of 500
  // p99 = N x 2 ms - 8 ms <= 11 ms up to 9 jobs (10 jobs: 12 ms).
  ASSERT_TRUE(s.jobs_within_budget.has_value());
  EXPECT_EQ(*s.jobs_within_budget, 9);
  EXPECT_DOUBLE_EQ(s.throughput_within_budget_per_s, 500);
  EXPECT_DOUBLE_EQ(s.cores_per_accelerator, 9);
  // Four-threaded jobs: four cores each.
  EXPECT_DOUBLE_EQ(AnalyseSaturation(points, 11e6, 4).cores_per_accelerator, 36);
}

TEST(Saturation, WithoutABudgetTheKneeSizesTheAccelerator) {
  const std::vector<SaturationPoint> points = ClosedLoop(16);
  const Saturation s = AnalyseSaturation(points, 0, 1);
  EXPECT_FALSE(s.jobs_within_budget.has_value());
  EXPECT_DOUBLE_EQ(s.cores_per_accelerator, 5);
  // A budget nothing meets: no jobs within it, the knee again.
  const Saturation tight = AnalyseSaturation(points, 1e6, 1);
  EXPECT_FALSE(tight.jobs_within_budget.has_value());
  EXPECT_DOUBLE_EQ(tight.cores_per_accelerator, 5);
  EXPECT_DOUBLE_EQ(AnalyseSaturation({}, 0, 1).plateau_per_s, 0);
}

TEST(Saturation, SeriesAreCellsThatDifferOnlyInJobs) {
  std::vector<CellRecord> cells;
  auto add = [&](TargetKind target, std::int64_t jobs, double per_s) {
    CellRecord cell;
    cell.index = static_cast<std::int64_t>(cells.size());
    cell.settings.target = target;
    cell.settings.backend = "null";
    cell.settings.model = "jet_cnn";
    cell.settings.concurrency = jobs;
    cell.settings.threads = std::max<std::int64_t>(1, 2 / jobs);  // auto threads differ per cell
    cell.settings.event_work = "elsewhere:8";
    cell.result.throughput_events_per_s = per_s;
    cell.result.throughput_inferences_per_s = 2 * per_s;  // not what a workflow series uses
    cell.result.latency.Record(1'000'000 * jobs);
    cells.push_back(cell);
  };
  for (std::int64_t jobs : {4, 1, 2}) add(TargetKind::kRemote, jobs, 100.0 * jobs);
  add(TargetKind::kLocal, 1, 100);
  add(TargetKind::kLocal, 2, 200);  // two points only: no series
  const std::vector<SaturationSeries> series = SaturationSeriesOf(cells);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].first.target, TargetKind::kRemote);
  ASSERT_EQ(series[0].points.size(), 3u);
  EXPECT_EQ(series[0].points[0].jobs, 1);
  EXPECT_EQ(series[0].points[2].jobs, 4);
  EXPECT_DOUBLE_EQ(series[0].points[2].throughput_per_s, 400);
  EXPECT_EQ(SaturationSeriesOf(cells, 2).size(), 2u);
}

}  // namespace
}  // namespace sonic
