#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/nvml.h"

namespace sonic::service {

// The machine-wide CPU time of /proc/stat's aggregate "cpu" line, in clock ticks, split as Triton
// splits it: idle is idle + iowait; busy is user + nice + system + irq + softirq + steal (guest
// time is already inside user and nice).
struct CpuTimes {
  std::uint64_t busy = 0;
  std::uint64_t idle = 0;
};

// /proc/meminfo's MemTotal and MemAvailable; Triton's "used" is their difference.
struct MemoryInfo {
  std::uint64_t total_bytes = 0;
  std::uint64_t available_bytes = 0;
  std::uint64_t used_bytes() const {
    return total_bytes > available_bytes ? total_bytes - available_bytes : 0;
  }
};

// Parse the text of /proc/stat and /proc/meminfo. Throw Error(kInvalidArgument) naming what is
// missing when the text has no aggregate cpu line, or no MemTotal or MemAvailable.
CpuTimes ParseProcStat(std::string_view text);
MemoryInfo ParseMeminfo(std::string_view text);

// The busy share of the CPU time that passed between two readings, in [0, 1]; 0 when no tick
// passed (or the counters went backwards).
double CpuUtilization(const CpuTimes& before, const CpuTimes& after);

// What the host's gauges read at one refresh.
struct HostSample {
  std::optional<double> cpu_utilization;  // over the last refresh interval
  std::optional<MemoryInfo> memory;
  std::vector<GpuSample> gpus;  // empty without NVML, or when GPUs were not asked for
};

// Reads /proc (and NVML, when asked for GPUs and present) on demand, at most once per
// kRefreshNs: scrapes closer together get the last reading, so a scrape storm costs no more
// than two readings a second, and the CPU utilisation is over the window between the last two
// readings -- at least kRefreshNs, but for the first, which starts at construction (Triton's
// "per interval" metrics, refreshed lazily instead of by a thread).
// Contract: Sample is thread-safe.
class HostSampler {
 public:
  static constexpr std::int64_t kRefreshNs = 500'000'000;

  explicit HostSampler(bool gpus);
  HostSample Sample();
  // "NVML: N GPU(s)", the reason there is none, or "not asked for".
  const std::string& gpu_status() const { return gpu_status_; }

 private:
  std::unique_ptr<Nvml> nvml_;
  std::string gpu_status_;
  std::mutex mutex_;
  std::int64_t refreshed_ns_ = 0;
  std::optional<CpuTimes> cpu_;  // at the last refresh
  HostSample last_;
};

}  // namespace sonic::service
