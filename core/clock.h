#pragma once

#include <cstdint>
#include <ctime>

namespace sonic {

// Monotonic time in nanoseconds (CLOCK_MONOTONIC): the one clock every latency is measured with.
inline std::int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CPU time consumed by the whole process so far, in nanoseconds (user + system).
inline std::int64_t ProcessCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace sonic
