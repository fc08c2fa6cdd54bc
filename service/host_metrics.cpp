#include "service/host_metrics.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "core/parse.h"

namespace sonic::service {
namespace {

// The whitespace-separated fields of `line`.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (at < line.size()) {
    const std::size_t start = line.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(line.find_first_of(" \t", start), line.size());
    fields.push_back(line.substr(start, end - start));
    at = end;
  }
  return fields;
}

template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    fn(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
}

std::string ReadFile(const char* path) { return TryReadWholeFile(path).value_or(""); }

}  // namespace

CpuTimes ParseProcStat(std::string_view text) {
  std::optional<CpuTimes> times;
  ForEachLine(text, [&](std::string_view line) {
    const std::vector<std::string_view> fields = Fields(line);
    if (times.has_value() || fields.size() < 9 || fields[0] != "cpu") return;
    // cpu user nice system idle iowait irq softirq steal [guest guest_nice]
    std::uint64_t value[8];
    for (int i = 0; i < 8; ++i) value[i] = ParseUnsigned(fields[i + 1], "/proc/stat cpu field");
    times = CpuTimes{value[0] + value[1] + value[2] + value[5] + value[6] + value[7],
                     value[3] + value[4]};
  });
  if (!times.has_value()) {
    Throw(ErrorKind::kInvalidArgument,
          "/proc/stat: no aggregate 'cpu' line with at least 8 counters");
  }
  return *times;
}

MemoryInfo ParseMeminfo(std::string_view text) {
  std::optional<std::uint64_t> total_kb, available_kb;
  ForEachLine(text, [&](std::string_view line) {
    const std::vector<std::string_view> fields = Fields(line);
    if (fields.size() < 2) return;
    if (fields[0] == "MemTotal:") total_kb = ParseUnsigned(fields[1], "/proc/meminfo MemTotal");
    if (fields[0] == "MemAvailable:") {
      available_kb = ParseUnsigned(fields[1], "/proc/meminfo MemAvailable");
    }
  });
  if (!total_kb.has_value() || !available_kb.has_value()) {
    Throw(ErrorKind::kInvalidArgument, "/proc/meminfo: no {} line",
          total_kb.has_value() ? "MemAvailable" : "MemTotal");
  }
  return {*total_kb * 1024, *available_kb * 1024};
}

double CpuUtilization(const CpuTimes& before, const CpuTimes& after) {
  if (after.busy < before.busy || after.idle < before.idle) return 0;
  const std::uint64_t busy = after.busy - before.busy;
  const std::uint64_t total = busy + (after.idle - before.idle);
  return total == 0 ? 0.0 : static_cast<double>(busy) / static_cast<double>(total);
}

HostSampler::HostSampler(bool gpus) {
  // The first scrape's CPU utilisation is over the time since construction.
  try {
    cpu_ = ParseProcStat(ReadFile("/proc/stat"));
  } catch (const Error&) {
    cpu_.reset();
  }
  if (!gpus) {
    gpu_status_ = "not asked for";
    return;
  }
  nvml_ = Nvml::Load(&gpu_status_);
  if (nvml_ != nullptr) gpu_status_ = fmt::format("NVML: {} GPU(s)", nvml_->Sample().size());
}

HostSample HostSampler::Sample() {
  std::lock_guard lock(mutex_);
  const std::int64_t now_ns = MonotonicNs();
  if (refreshed_ns_ != 0 && now_ns - refreshed_ns_ < kRefreshNs) return last_;
  refreshed_ns_ = now_ns;
  // /proc is always there on Linux; a reading that fails leaves that gauge out.
  try {
    const CpuTimes cpu = ParseProcStat(ReadFile("/proc/stat"));
    if (cpu_.has_value()) last_.cpu_utilization = CpuUtilization(*cpu_, cpu);
    cpu_ = cpu;
  } catch (const Error&) {
    last_.cpu_utilization.reset();
    cpu_.reset();
  }
  try {
    last_.memory = ParseMeminfo(ReadFile("/proc/meminfo"));
  } catch (const Error&) {
    last_.memory.reset();
  }
  if (nvml_ != nullptr) last_.gpus = nvml_->Sample();
  return last_;
}

}  // namespace sonic::service
