#pragma once

#include <cstdint>
#include <string_view>

#include "core/random.h"
#include "results/cell.h"

namespace sonic {

// The open-loop send schedule: absolute arrival times (monotonic ns) at `rate_hz` from `start_ns`.
// Constant arrivals are start + k / rate, computed from k so that no rounding drifts; Poisson
// arrivals have independent exponential gaps of mean 1 / rate from a seeded generator, so a
// schedule reproduces exactly. Not thread-safe: the load generator serialises Next().
class ArrivalSchedule {
 public:
  ArrivalSchedule(ArrivalProcess process, double rate_hz, std::uint64_t seed,
                  std::int64_t start_ns);

  // The next arrival time; non-decreasing. The first arrival is at start_ns for constant arrivals
  // and one exponential gap after it for Poisson arrivals.
  std::int64_t Next();
  std::int64_t issued() const { return issued_; }  // arrivals returned so far

 private:
  ArrivalProcess process_;
  double period_ns_;
  std::int64_t start_ns_;
  double offset_ns_ = 0;  // Poisson: sum of the gaps so far, kept in double to avoid drift
  std::int64_t issued_ = 0;
  Random random_;
};

}  // namespace sonic
