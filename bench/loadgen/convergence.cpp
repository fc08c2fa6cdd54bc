#include "bench/loadgen/convergence.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sonic {

double StudentT975(int dof) {
  static constexpr double kTable[] = {
      12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
      2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
      2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
  if (dof < 1) return std::numeric_limits<double>::infinity();
  if (dof <= 30) return kTable[dof - 1];
  const double z = 1.959963984540054;
  const double v = dof;
  const double z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v);
}

ThroughputEstimate EstimateThroughput(std::span<const double> progress, double sub_window_s,
                                      int min_batches) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  ThroughputEstimate estimate{0, 0, kInf, kInf};
  const int windows = static_cast<int>(progress.size()) - 1;
  if (windows < 1) return estimate;
  const int per_batch = windows >= min_batches ? windows / min_batches : 1;
  const int batches = windows / per_batch;
  const int first = windows - batches * per_batch;  // drop the oldest remainder
  const double batch_s = per_batch * sub_window_s;
  double sum = 0, sum_sq = 0;
  for (int b = 0; b < batches; ++b) {
    const double rate =
        (progress[first + (b + 1) * per_batch] - progress[first + b * per_batch]) / batch_s;
    sum += rate;
    sum_sq += rate * rate;
  }
  estimate.batches = batches;
  estimate.rate_per_s = sum / batches;
  if (batches >= 2) {
    const double variance = std::max(0.0, (sum_sq - sum * sum / batches) / (batches - 1));
    estimate.ci95_per_s = StudentT975(batches - 1) * std::sqrt(variance / batches);
  }
  if (estimate.rate_per_s > 0) estimate.relative_ci95 = estimate.ci95_per_s / estimate.rate_per_s;
  return estimate;
}

}  // namespace sonic
