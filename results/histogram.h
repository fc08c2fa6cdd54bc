#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace sonic {

// Percentiles and moments of one latency distribution, in nanoseconds.
struct LatencySummary {
  std::int64_t count = 0;
  double p50_ns = 0;
  double p90_ns = 0;
  double p95_ns = 0;
  double p99_ns = 0;
  double p999_ns = 0;
  double mean_ns = 0;
  double std_ns = 0;  // population standard deviation
  double min_ns = 0;
  double max_ns = 0;
};

// The complete state of a LatencyHistogram as plain numbers, for files and for messages between
// processes: the non-empty buckets (lower bound, count) in ascending order plus the exact moments.
// LatencyHistogram::Import(h.Export()) reproduces h exactly.
struct HistogramData {
  std::vector<std::int64_t> lower_bound_ns;  // of each non-empty bucket, ascending
  std::vector<std::int64_t> count;           // same length as lower_bound_ns
  std::int64_t total_count = 0;
  std::int64_t sum_ns = 0;
  std::int64_t min_ns = 0;  // 0 when empty
  std::int64_t max_ns = 0;  // 0 when empty
  std::int64_t overflow_count = 0;
  // Sum of squares in ns^2 is kept exactly as a 128-bit integer (split in two halves) so that a
  // merged standard deviation equals the one of the concatenated samples bit for bit.
  std::uint64_t sum_sq_hi = 0;
  std::uint64_t sum_sq_lo = 0;
};

// A log-linear histogram of latencies in nanoseconds (the HdrHistogram layout with a 1 ns unit):
// values 0..255 ns have one bucket each (exact); above, every power of two [2^e, 2^(e+1)) is split
// into 128 equal sub-buckets, so a bucket's width is at most 1/128 of its lower bound. Reading a
// bucket back as its midpoint (ValueAt) is within kRelativeError = 1/256 (0.39%) of every value
// recorded in it. Covered range: 0 to kMaxValueNs = 2^40 - 1 ns (about 1100 s, above the 1000 s
// the issue asks for); larger values are clamped into the top bucket and counted as overflow, and
// negative values (impossible with a monotonic clock) are recorded as 0. Count, sum, sum of
// squares, min and max are tracked exactly over the (clamped) values, so mean and std are exact and
// percentiles are clamped into [min, max].
//
// Contract: Record is O(1), allocation-free and branch-light (the hot path of every request: about
// 2.5 ns of CPU on the 2-core build machines; Merge about 0.7 us).
// Not thread-safe: keep one histogram per worker thread and Merge them at the end of a cell; Merge
// is exact (the merged histogram equals the histogram of the concatenated values).
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr std::int64_t kSubBucketCount = std::int64_t{1} << kSubBucketBits;  // 128
  static constexpr int kTopExponent = 40;
  static constexpr std::int64_t kMaxValueNs = (std::int64_t{1} << kTopExponent) - 1;
  // 256 exact buckets, then 128 per power of two from 2^8 to 2^39.
  static constexpr int kBucketCount =
      static_cast<int>((kTopExponent - kSubBucketBits + 1) * kSubBucketCount);  // 4352
  static constexpr double kRelativeError = 1.0 / (2 * kSubBucketCount);

  LatencyHistogram();

  void Record(std::int64_t value_ns) {
    const std::int64_t clamped =
        value_ns < 0 ? 0 : (value_ns > kMaxValueNs ? kMaxValueNs : value_ns);
    overflow_count_ += value_ns > kMaxValueNs;
    ++counts_[BucketIndex(clamped)];
    ++count_;
    sum_ns_ += clamped;
    sum_sq_ += static_cast<unsigned __int128>(clamped) * static_cast<std::uint64_t>(clamped);
    if (clamped < min_ns_) min_ns_ = clamped;
    if (clamped > max_ns_) max_ns_ = clamped;
  }

  // Adds every value of `other` to this histogram, exactly.
  void Merge(const LatencyHistogram& other);

  std::int64_t count() const { return count_; }
  std::int64_t overflow_count() const { return overflow_count_; }
  std::int64_t sum_ns() const { return sum_ns_; }
  std::int64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
  std::int64_t max_ns() const { return count_ == 0 ? 0 : max_ns_; }
  double Mean() const;    // 0 when empty
  double StdDev() const;  // population standard deviation; 0 when empty

  // The nearest-rank percentile: the value of rank ceil(q * count) (at least 1) among the recorded
  // values in ascending order, read back as its bucket's ValueAt and clamped into [min, max] (the
  // first and last ranks are min and max exactly); so within kRelativeError of the exact
  // nearest-rank percentile. q in [0, 1]; 0 when empty.
  double Percentile(double q) const;
  // A distribution-free 95% confidence interval of the q-th percentile of the population these
  // values were drawn from (independent samples assumed): the values at ranks
  // n*q -/+ 1.96*sqrt(n*q*(1-q)). {0, 0} when empty.
  std::pair<double, double> PercentileCi95(double q) const;
  LatencySummary Summary() const;

  // Bucket layout, for export and for tests.
  static int BucketIndex(std::int64_t value_ns) {
    // Branch-free: the exponent of the highest set bit, but at least kSubBucketBits.
    const int exponent =
        63 - __builtin_clzll(static_cast<std::uint64_t>(value_ns) | kSubBucketCount);
    const int shift = exponent - kSubBucketBits;
    return static_cast<int>((static_cast<std::int64_t>(shift) << kSubBucketBits) +
                            (value_ns >> shift));
  }
  static std::int64_t BucketLowerBound(int index);
  static std::int64_t BucketWidth(int index);
  // The bucket's representative value: its midpoint (exactly its value for width-1 buckets).
  static double ValueAt(int index);
  std::int64_t BucketCount(int index) const { return counts_[index]; }

  HistogramData Export() const;
  // Throws Error(kInvalidArgument) when `data` is not a valid export (a lower bound that is not a
  // bucket bound, bounds not ascending, counts that do not add up to total_count).
  static LatencyHistogram Import(const HistogramData& data);

  friend bool operator==(const LatencyHistogram& a, const LatencyHistogram& b);

 private:
  double ValueOfRank(std::int64_t rank) const;  // 1-based; clamped into [1, count]

  std::vector<std::int64_t> counts_;  // kBucketCount entries, allocated once
  std::int64_t count_ = 0;
  std::int64_t overflow_count_ = 0;
  std::int64_t sum_ns_ = 0;
  unsigned __int128 sum_sq_ = 0;
  std::int64_t min_ns_ = kMaxValueNs;
  std::int64_t max_ns_ = 0;
};

}  // namespace sonic
