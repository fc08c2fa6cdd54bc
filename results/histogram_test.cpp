#include "results/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/random.h"

namespace sonic {
namespace {

// The nearest-rank percentile of a set, the definition LatencyHistogram::Percentile approximates.
double ExactPercentile(std::vector<std::int64_t> values, double q) {
  std::sort(values.begin(), values.end());
  const auto n = static_cast<std::int64_t>(values.size());
  const auto rank =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(q * static_cast<double>(n))));
  return static_cast<double>(values[std::min(rank, n) - 1]);
}

TEST(LatencyHistogramTest, BucketLayoutIsContiguousAndWithinTheErrorBound) {
  EXPECT_EQ(LatencyHistogram::BucketIndex(0), 0);
  EXPECT_EQ(LatencyHistogram::BucketIndex(255), 255);
  EXPECT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::kMaxValueNs),
            LatencyHistogram::kBucketCount - 1);
  for (int i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    const std::int64_t lower = LatencyHistogram::BucketLowerBound(i);
    const std::int64_t width = LatencyHistogram::BucketWidth(i);
    ASSERT_EQ(lower + width, LatencyHistogram::BucketLowerBound(i + 1)) << i;
    ASSERT_EQ(LatencyHistogram::BucketIndex(lower), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(lower + width - 1), i);
    // Every integer in the bucket is within kRelativeError of the bucket's representative value.
    const double value = LatencyHistogram::ValueAt(i);
    if (lower > 0) {
      ASSERT_LE(std::abs(value - lower) / lower, LatencyHistogram::kRelativeError) << i;
      ASSERT_LE(std::abs(value - (lower + width - 1)) / (lower + width - 1),
                LatencyHistogram::kRelativeError)
          << i;
    }
  }
  // 1 us to 1000 s are covered.
  EXPECT_GE(LatencyHistogram::kMaxValueNs, 1'000'000'000'000);
  EXPECT_LE(LatencyHistogram::kRelativeError, 0.01);
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZeros) {
  const LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Percentile(0.5), 0);
  EXPECT_EQ(h.Mean(), 0);
  EXPECT_EQ(h.StdDev(), 0);
  EXPECT_EQ(h.min_ns(), 0);
  EXPECT_EQ(h.max_ns(), 0);
}

TEST(LatencyHistogramTest, UniformValuesMatchClosedForms) {
  // 1..N us uniformly: mean (N+1)/2 us, population variance (N^2 - 1)/12 us^2, p-th percentile
  // ceil(pN) us.
  constexpr std::int64_t kN = 100'000;
  LatencyHistogram h;
  for (std::int64_t i = 1; i <= kN; ++i) h.Record(i * 1000);
  EXPECT_EQ(h.count(), kN);
  EXPECT_EQ(h.min_ns(), 1000);
  EXPECT_EQ(h.max_ns(), kN * 1000);
  EXPECT_DOUBLE_EQ(h.Mean(), (kN + 1) / 2.0 * 1000);
  EXPECT_NEAR(h.StdDev(), std::sqrt((double(kN) * kN - 1) / 12.0) * 1000, 1e-6);
  for (double q : {0.01, 0.5, 0.9, 0.95, 0.99, 0.999}) {
    const double exact = std::ceil(q * kN) * 1000;
    EXPECT_LE(std::abs(h.Percentile(q) - exact) / exact, LatencyHistogram::kRelativeError) << q;
  }
  EXPECT_EQ(h.Percentile(0), 1000);
  EXPECT_EQ(h.Percentile(1), kN * 1000);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (std::int64_t v : {3, 7, 7, 200}) h.Record(v);
  EXPECT_EQ(h.Percentile(0.25), 3);
  EXPECT_EQ(h.Percentile(0.5), 7);
  EXPECT_EQ(h.Percentile(0.75), 7);
  EXPECT_EQ(h.Percentile(1.0), 200);
}

TEST(LatencyHistogramTest, PercentilesOfRandomSetsAreWithinTheErrorBound) {
  Random random(7);
  std::vector<std::int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 50'000; ++i) {
    // Log-normal around 1 ms spanning several decades: exercises many octaves.
    const auto v = static_cast<std::int64_t>(std::exp(random.Normal(std::log(1e6), 2.0)));
    values.push_back(v);
    h.Record(v);
  }
  for (double q : {0.001, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const double exact = ExactPercentile(values, q);
    EXPECT_LE(std::abs(h.Percentile(q) - exact), exact * LatencyHistogram::kRelativeError) << q;
  }
  const auto [low, high] = h.PercentileCi95(0.99);
  EXPECT_LE(low, h.Percentile(0.99));
  EXPECT_GE(high, h.Percentile(0.99));
}

TEST(LatencyHistogramTest, OutOfRangeValuesAreClampedAndCounted) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(LatencyHistogram::kMaxValueNs + 12345);
  EXPECT_EQ(h.count(), 2);
  EXPECT_EQ(h.overflow_count(), 1);
  EXPECT_EQ(h.min_ns(), 0);
  EXPECT_EQ(h.max_ns(), LatencyHistogram::kMaxValueNs);
  EXPECT_EQ(h.BucketCount(LatencyHistogram::kBucketCount - 1), 1);
}

TEST(LatencyHistogramTest, MergeEqualsHistogramOfConcatenation) {
  Random random(11);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 20'000; ++i) {
    const auto v = static_cast<std::int64_t>(random.Uniform(0, 5e9));
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  LatencyHistogram merged = a;
  merged.Merge(b);
  EXPECT_EQ(merged, all);
  EXPECT_EQ(merged.StdDev(), all.StdDev());
  EXPECT_EQ(merged.Percentile(0.99), all.Percentile(0.99));
}

TEST(LatencyHistogramTest, ExportImportRoundTripsExactly) {
  Random random(3);
  LatencyHistogram h;
  for (int i = 0; i < 10'000; ++i) h.Record(static_cast<std::int64_t>(random.Uniform(0, 1e12)));
  const HistogramData data = h.Export();
  EXPECT_LT(data.count.size(), static_cast<std::size_t>(LatencyHistogram::kBucketCount));
  EXPECT_EQ(LatencyHistogram::Import(data), h);
  EXPECT_EQ(LatencyHistogram::Import(LatencyHistogram().Export()), LatencyHistogram());
}

TEST(LatencyHistogramTest, ImportRejectsInvalidData) {
  HistogramData data;
  data.lower_bound_ns = {257};  // not a bucket lower bound (buckets above 256 are 2 ns wide)
  data.count = {1};
  data.total_count = 1;
  EXPECT_THROW(LatencyHistogram::Import(data), Error);
  data.lower_bound_ns = {256};
  data.total_count = 2;  // counts add up to 1
  EXPECT_THROW(LatencyHistogram::Import(data), Error);
}

}  // namespace
}  // namespace sonic
