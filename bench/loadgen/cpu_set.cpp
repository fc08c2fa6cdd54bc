#include "bench/loadgen/cpu_set.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "core/error.h"
#include "core/parse.h"

namespace sonic {
namespace {

int ParseCpu(std::string_view text, std::string_view whole) {
  const std::int64_t parsed = TryParseInt(text).value_or(-1);
  const int cpu = parsed <= INT_MAX ? static_cast<int>(parsed) : -1;
  if (cpu < 0) {
    Throw(ErrorKind::kInvalidArgument, "bad CPU list '{}': '{}' is not a CPU number", whole, text);
  }
  const auto configured = sysconf(_SC_NPROCESSORS_CONF);
  if (cpu >= configured || cpu >= CPU_SETSIZE) {
    Throw(ErrorKind::kInvalidArgument,
          "bad CPU list '{}': CPU {} does not exist (this machine has 0-{})", whole, cpu,
          configured - 1);
  }
  return cpu;
}

}  // namespace

CpuList ParseCpuList(std::string_view text) {
  if (text.empty()) Throw(ErrorKind::kInvalidArgument, "empty CPU list");
  CpuList cpus;
  for (std::size_t begin = 0; begin <= text.size();) {
    std::size_t comma = text.find(',', begin);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(begin, comma - begin);
    begin = comma + 1;
    const std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      cpus.push_back(ParseCpu(item, text));
      continue;
    }
    const int first = ParseCpu(item.substr(0, dash), text);
    const int last = ParseCpu(item.substr(dash + 1), text);
    if (last < first) {
      Throw(ErrorKind::kInvalidArgument, "bad CPU list '{}': range '{}' runs backwards", text,
            item);
    }
    for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::string CpuListToString(const CpuList& cpus) {
  std::string text;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!text.empty()) text += ',';
    text += j == i ? fmt::format("{}", cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
    i = j + 1;
  }
  return text;
}

void PinCurrentThread(const CpuList& cpus) {
  if (cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) {
    Throw(ErrorKind::kInvalidArgument, "pthread_setaffinity_np to CPUs {} failed (error {})",
          CpuListToString(cpus), rc);
  }
}

CpuList CurrentThreadCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CpuList cpus;
  if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

}  // namespace sonic
