#pragma once

#include <time.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace sonic {

// Monotonic time in nanoseconds (CLOCK_MONOTONIC): the one clock every latency is measured with.
inline std::int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Sleeps until `deadline_ns` of MonotonicNs (at once when it has passed), through signals. The
// wake-up is late by the thread's timer slack (50 µs unless set with PR_SET_TIMERSLACK) plus the
// scheduler's delay.
inline void SleepUntilNs(std::int64_t deadline_ns) {
  const timespec ts{static_cast<time_t>(deadline_ns / 1'000'000'000),
                    static_cast<decltype(timespec::tv_nsec)>(deadline_ns % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// CPU time consumed by the whole process so far, in nanoseconds (user + system).
inline std::int64_t ProcessCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CPU time consumed by the calling thread so far, in nanoseconds (user + system): what a thread's
// own work costs, whatever else shares its core.
inline std::int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace sonic
