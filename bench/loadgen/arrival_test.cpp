#include "bench/loadgen/arrival.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"

namespace sonic {
namespace {

TEST(ArrivalSchedule, ConstantArrivalsAreExactAndDoNotDrift) {
  ArrivalSchedule schedule(ArrivalProcess::kConstant, 3000, /*seed=*/1, /*start_ns=*/1000);
  std::int64_t last = 0;
  for (std::int64_t k = 0; k < 3'000'000; ++k) last = schedule.Next();
  // Arrival k is at start + k / rate exactly (rounded to the nanosecond): no accumulated error.
  EXPECT_EQ(last, 1000 + std::llround(2'999'999 * (1e9 / 3000)));
  EXPECT_EQ(schedule.issued(), 3'000'000);
}

TEST(ArrivalSchedule, PoissonGapsAreExponentialWithTheRightMean) {
  const double rate_hz = 50'000;
  const double mean_ns = 1e9 / rate_hz;
  ArrivalSchedule schedule(ArrivalProcess::kPoisson, rate_hz, /*seed=*/7, /*start_ns=*/0);
  const int n = 200'000;
  std::vector<double> gaps;
  std::int64_t previous = 0;
  for (int i = 0; i < n; ++i) {
    const std::int64_t t = schedule.Next();
    ASSERT_GE(t, previous);
    gaps.push_back(static_cast<double>(t - previous));
    previous = t;
  }
  double sum = 0, sum_sq = 0;
  int above_mean = 0;
  for (double g : gaps) {
    sum += g;
    sum_sq += g * g;
    above_mean += g > mean_ns;
  }
  const double mean = sum / n;
  const double variance = sum_sq / n - mean * mean;
  // Exponential: mean 1/rate, standard deviation 1/rate, P(gap > mean) = 1/e. Bounds are 5 sigma.
  EXPECT_NEAR(mean, mean_ns, 5 * mean_ns / std::sqrt(n));
  EXPECT_NEAR(std::sqrt(variance), mean_ns, 0.02 * mean_ns);
  const double p = std::exp(-1.0);
  EXPECT_NEAR(static_cast<double>(above_mean) / n, p, 5 * std::sqrt(p * (1 - p) / n));
}

TEST(ArrivalSchedule, PoissonCountsPerIntervalHaveMeanEqualToVariance) {
  // Counts in 1 ms intervals at 20 kHz: Poisson with mean = variance = 20.
  ArrivalSchedule schedule(ArrivalProcess::kPoisson, 20'000, /*seed=*/3, /*start_ns=*/0);
  const int intervals = 20'000;
  std::vector<int> counts(intervals, 0);
  for (std::int64_t t = schedule.Next(); t < intervals * 1'000'000LL; t = schedule.Next()) {
    ++counts[t / 1'000'000];
  }
  double sum = 0, sum_sq = 0;
  for (int c : counts) {
    sum += c;
    sum_sq += static_cast<double>(c) * c;
  }
  const double mean = sum / intervals;
  const double variance = sum_sq / intervals - mean * mean;
  EXPECT_NEAR(mean, 20, 5 * std::sqrt(20.0 / intervals));
  EXPECT_NEAR(variance / mean, 1.0, 0.05);
}

TEST(ArrivalSchedule, IsReproducibleFromItsSeed) {
  ArrivalSchedule a(ArrivalProcess::kPoisson, 1000, 42, 0),
      b(ArrivalProcess::kPoisson, 1000, 42, 0);
  ArrivalSchedule c(ArrivalProcess::kPoisson, 1000, 43, 0);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const std::int64_t ta = a.Next();
    EXPECT_EQ(ta, b.Next());
    differs |= ta != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(ArrivalSchedule, RejectsBadRatesAndNames) {
  EXPECT_THROW(ArrivalSchedule(ArrivalProcess::kConstant, 0, 1, 0), Error);
  EXPECT_THROW(ArrivalSchedule(ArrivalProcess::kPoisson, -5, 1, 0), Error);
  EXPECT_EQ(ParseArrivalProcess("poisson"), ArrivalProcess::kPoisson);
  EXPECT_THROW(ParseArrivalProcess("bursty"), Error);
}

}  // namespace
}  // namespace sonic
