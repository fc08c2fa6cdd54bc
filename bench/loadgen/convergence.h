#pragma once

#include <cstdint>
#include <span>

namespace sonic {

// The two-sided 97.5% quantile of Student's t with `dof` degrees of freedom (the factor of a 95%
// confidence interval). Exact table to 30, a Cornish-Fisher expansion above (error < 1e-4).
double StudentT975(int dof);

// Throughput and its 95% confidence interval by batch means.
// `progress` holds the cumulative (interpolated) completions at equally spaced sub-window
// boundaries b_0, b_1, ..., b_k, `sub_window_s` apart. The k sub-windows are grouped into
// B = k / m consecutive batches of m = max(1, k / min_batches) sub-windows (the oldest k mod m
// sub-windows are dropped), so there are between min_batches and 2 * min_batches - 1 batches once
// k >= min_batches and batches lengthen as the window grows, which keeps them close to
// independent. The interval is t(0.975, B-1) * s / sqrt(B) over the batch rates.
struct ThroughputEstimate {
  int batches = 0;
  double rate_per_s = 0;     // mean over the batches used
  double ci95_per_s = 0;     // half-width; infinite with fewer than 2 batches
  double relative_ci95 = 0;  // ci95_per_s / rate_per_s; infinite when the rate is 0
};
ThroughputEstimate EstimateThroughput(std::span<const double> progress, double sub_window_s,
                                      int min_batches);

}  // namespace sonic
