#include "results/histogram.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sonic {
namespace {

// The index of the bucket holding the value of 1-based rank `rank` (1 <= rank <= total).
int BucketOfRank(const std::vector<std::int64_t>& counts, std::int64_t rank) {
  std::int64_t seen = 0;
  for (int i = 0; i < static_cast<int>(counts.size()); ++i) {
    seen += counts[i];
    if (seen >= rank) return i;
  }
  return static_cast<int>(counts.size()) - 1;
}

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBucketCount, 0) {}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  overflow_count_ += other.overflow_count_;
  sum_ns_ += other.sum_ns_;
  sum_sq_ += other.sum_sq_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

double LatencyHistogram::Mean() const {
  return count_ == 0 ? 0 : static_cast<double>(sum_ns_) / static_cast<double>(count_);
}

double LatencyHistogram::StdDev() const {
  if (count_ == 0) return 0;
  // n * sum_sq - sum^2 = n^2 * variance; in long double (64-bit mantissa) the cancellation
  // leaves ample precision for latencies up to the top bucket.
  const long double n = static_cast<long double>(count_);
  const long double sum = static_cast<long double>(sum_ns_);
  const long double sum_sq = static_cast<long double>(sum_sq_);
  const long double variance = (n * sum_sq - sum * sum) / (n * n);
  return variance > 0 ? static_cast<double>(std::sqrt(variance)) : 0;
}

double LatencyHistogram::ValueOfRank(std::int64_t rank) const {
  // The extreme ranks are known exactly; the others are read back from their bucket.
  if (rank <= 1) return static_cast<double>(min_ns_);
  if (rank >= count_) return static_cast<double>(max_ns_);
  return std::clamp(ValueAt(BucketOfRank(counts_, rank)), static_cast<double>(min_ns_),
                    static_cast<double>(max_ns_));
}

double LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  return ValueOfRank(static_cast<std::int64_t>(std::ceil(q * static_cast<double>(count_))));
}

std::pair<double, double> LatencyHistogram::PercentileCi95(double q) const {
  if (count_ == 0) return {0, 0};
  q = std::clamp(q, 0.0, 1.0);
  const double n = static_cast<double>(count_);
  const double half_width = 1.96 * std::sqrt(n * q * (1 - q));
  return {ValueOfRank(static_cast<std::int64_t>(std::floor(n * q - half_width))),
          ValueOfRank(static_cast<std::int64_t>(std::ceil(n * q + half_width)))};
}

LatencySummary LatencyHistogram::Summary() const {
  LatencySummary s;
  s.count = count_;
  s.p50_ns = Percentile(0.50);
  s.p90_ns = Percentile(0.90);
  s.p95_ns = Percentile(0.95);
  s.p99_ns = Percentile(0.99);
  s.p999_ns = Percentile(0.999);
  s.mean_ns = Mean();
  s.std_ns = StdDev();
  s.min_ns = static_cast<double>(min_ns());
  s.max_ns = static_cast<double>(max_ns());
  return s;
}

std::int64_t LatencyHistogram::BucketLowerBound(int index) {
  if (index < 2 * kSubBucketCount) return index;
  const int shift = index / static_cast<int>(kSubBucketCount) - 1;
  return (index % kSubBucketCount + kSubBucketCount) << shift;
}

std::int64_t LatencyHistogram::BucketWidth(int index) {
  if (index < 2 * kSubBucketCount) return 1;
  return std::int64_t{1} << (index / static_cast<int>(kSubBucketCount) - 1);
}

double LatencyHistogram::ValueAt(int index) {
  // Integer values in [lower, lower + width): the midpoint lower + width / 2 is at most width / 2
  // away from any of them, and width / 2 <= lower / 256 for the log buckets.
  const std::int64_t midpoint = BucketLowerBound(index) + BucketWidth(index) / 2;
  return static_cast<double>(midpoint);
}

HistogramData LatencyHistogram::Export() const {
  HistogramData data;
  for (int i = 0; i < kBucketCount; ++i) {
    if (counts_[i] == 0) continue;
    data.lower_bound_ns.push_back(BucketLowerBound(i));
    data.count.push_back(counts_[i]);
  }
  data.total_count = count_;
  data.sum_ns = sum_ns_;
  data.min_ns = min_ns();
  data.max_ns = max_ns();
  data.overflow_count = overflow_count_;
  data.sum_sq_hi = static_cast<std::uint64_t>(sum_sq_ >> 64);
  data.sum_sq_lo = static_cast<std::uint64_t>(sum_sq_);
  return data;
}

LatencyHistogram LatencyHistogram::Import(const HistogramData& data) {
  if (data.lower_bound_ns.size() != data.count.size()) {
    Throw(ErrorKind::kInvalidArgument, "histogram import: {} bucket bounds but {} counts",
          data.lower_bound_ns.size(), data.count.size());
  }
  LatencyHistogram h;
  int previous = -1;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < data.count.size(); ++i) {
    const std::int64_t bound = data.lower_bound_ns[i];
    const int index = bound >= 0 && bound <= kMaxValueNs ? BucketIndex(bound) : -1;
    if (index < 0 || BucketLowerBound(index) != bound || index <= previous || data.count[i] < 0) {
      Throw(ErrorKind::kInvalidArgument,
            "histogram import: entry {} (lower bound {} ns, count {}) is not an ascending bucket "
            "lower bound with a non-negative count",
            i, bound, data.count[i]);
    }
    h.counts_[index] = data.count[i];
    total += data.count[i];
    previous = index;
  }
  if (total != data.total_count) {
    Throw(ErrorKind::kInvalidArgument, "histogram import: bucket counts add up to {}, not {}",
          total, data.total_count);
  }
  h.count_ = data.total_count;
  h.overflow_count_ = data.overflow_count;
  h.sum_ns_ = data.sum_ns;
  h.sum_sq_ = (static_cast<unsigned __int128>(data.sum_sq_hi) << 64) | data.sum_sq_lo;
  if (total > 0) {
    h.min_ns_ = data.min_ns;
    h.max_ns_ = data.max_ns;
  }
  return h;
}

bool operator==(const LatencyHistogram& a, const LatencyHistogram& b) {
  return a.count_ == b.count_ && a.overflow_count_ == b.overflow_count_ && a.sum_ns_ == b.sum_ns_ &&
         a.sum_sq_ == b.sum_sq_ && a.min_ns() == b.min_ns() && a.max_ns() == b.max_ns() &&
         a.counts_ == b.counts_;
}

}  // namespace sonic
