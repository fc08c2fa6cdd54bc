#include "bench/loadgen/arrival.h"

#include <cmath>

#include "core/error.h"

namespace sonic {

ArrivalSchedule::ArrivalSchedule(ArrivalProcess process, double rate_hz, std::uint64_t seed,
                                 std::int64_t start_ns)
    : process_(process), period_ns_(1e9 / rate_hz), start_ns_(start_ns), random_(seed) {
  if (!(rate_hz > 0) || !std::isfinite(rate_hz)) {
    Throw(ErrorKind::kInvalidArgument, "arrival rate must be a positive number of Hz, got {}",
          rate_hz);
  }
}

std::int64_t ArrivalSchedule::Next() {
  if (process_ == ArrivalProcess::kConstant) {
    return start_ns_ + std::llround(static_cast<double>(issued_++) * period_ns_);
  }
  ++issued_;
  offset_ns_ += -std::log(1.0 - random_.Uniform()) * period_ns_;
  return start_ns_ + std::llround(offset_ns_);
}

}  // namespace sonic
