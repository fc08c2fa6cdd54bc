#include "bench/loadgen/convergence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/random.h"

namespace sonic {
namespace {

TEST(StudentT975, MatchesTablesAndTheNormalLimit) {
  EXPECT_NEAR(StudentT975(1), 12.706, 1e-3);
  EXPECT_NEAR(StudentT975(9), 2.262, 1e-3);
  EXPECT_NEAR(StudentT975(30), 2.042, 1e-3);
  EXPECT_NEAR(StudentT975(40), 2.021, 1e-3);
  EXPECT_NEAR(StudentT975(120), 1.980, 1e-3);
  EXPECT_NEAR(StudentT975(100000), 1.960, 1e-3);
  EXPECT_TRUE(std::isinf(StudentT975(0)));
}

TEST(EstimateThroughput, AConstantRateHasAZeroInterval) {
  std::vector<double> progress;
  for (int i = 0; i <= 10; ++i) progress.push_back(1000.0 * i * 0.1);  // 1000/s
  const ThroughputEstimate e = EstimateThroughput(progress, 0.1, 10);
  EXPECT_EQ(e.batches, 10);
  EXPECT_NEAR(e.rate_per_s, 1000, 1e-9);
  EXPECT_NEAR(e.ci95_per_s, 0, 1e-6);
}

TEST(EstimateThroughput, IntervalMatchesTheClosedFormForKnownBatches) {
  // Sub-window rates 90, 110, 90, 110, ...: mean 100, s = 10 * sqrt(10/9) over 10 batches.
  std::vector<double> progress{0};
  for (int i = 0; i < 10; ++i) progress.push_back(progress.back() + (i % 2 ? 110 : 90));
  const ThroughputEstimate e = EstimateThroughput(progress, 1.0, 10);
  const double s = 10 * std::sqrt(10.0 / 9.0);
  EXPECT_NEAR(e.rate_per_s, 100, 1e-9);
  EXPECT_NEAR(e.ci95_per_s, 2.2622 * s / std::sqrt(10.0), 1e-3);
  EXPECT_NEAR(e.relative_ci95, e.ci95_per_s / 100, 1e-12);
}

TEST(EstimateThroughput, GroupsSubWindowsIntoLongerBatchesAsTheWindowGrows) {
  std::vector<double> progress{0};
  for (int i = 0; i < 45; ++i) progress.push_back(progress.back() + 100);
  const ThroughputEstimate e = EstimateThroughput(progress, 1.0, 10);
  EXPECT_EQ(e.batches, 11);  // 45 sub-windows, 4 per batch, the oldest one dropped
  EXPECT_NEAR(e.rate_per_s, 100, 1e-9);
}

TEST(EstimateThroughput, CoversTheTrueRateAbout95PercentOfTheTime) {
  Random random(11);
  int covered = 0;
  const int trials = 2000;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> progress{0};
    for (int i = 0; i < 12; ++i) progress.push_back(progress.back() + random.Normal(1000, 50));
    const ThroughputEstimate e = EstimateThroughput(progress, 1.0, 12);
    covered += std::abs(e.rate_per_s - 1000) <= e.ci95_per_s;
  }
  EXPECT_NEAR(static_cast<double>(covered) / trials, 0.95, 0.02);
}

TEST(EstimateThroughput, TooFewPointsGiveAnInfiniteInterval) {
  EXPECT_TRUE(std::isinf(EstimateThroughput(std::vector<double>{0}, 1.0, 10).relative_ci95));
  EXPECT_TRUE(std::isinf(EstimateThroughput(std::vector<double>{0, 5}, 1.0, 10).ci95_per_s));
  EXPECT_TRUE(std::isinf(EstimateThroughput(std::vector<double>{0, 0, 0}, 1.0, 10).relative_ci95));
}

}  // namespace
}  // namespace sonic
