#include "service/host_metrics.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sonic::service {
namespace {

TEST(HostMetrics, ProcStatSplitsBusyAndIdleAsTriton) {
  // user nice system idle iowait irq softirq steal guest guest_nice
  const CpuTimes times = ParseProcStat(
      "cpu  100 20 30 400 50 6 7 8 90 10\n"
      "cpu0 1 1 1 1 1 1 1 1 0 0\n"
      "intr 12345\n");
  EXPECT_EQ(times.busy, 100u + 20 + 30 + 6 + 7 + 8);  // guest is already in user and nice
  EXPECT_EQ(times.idle, 400u + 50);
}

TEST(HostMetrics, ProcStatWithoutAggregateLineIsAnError) {
  EXPECT_THROW(ParseProcStat("cpu0 1 2 3 4 5 6 7 8\n"), Error);
  EXPECT_THROW(ParseProcStat("cpu 1 2 x 4 5 6 7 8\n"), Error);
}

TEST(HostMetrics, CpuUtilizationIsTheBusyShareOfTheTicksBetween) {
  EXPECT_DOUBLE_EQ(CpuUtilization({100, 300}, {130, 370}), 0.3);
  EXPECT_DOUBLE_EQ(CpuUtilization({100, 300}, {100, 300}), 0.0);  // no tick passed
  EXPECT_DOUBLE_EQ(CpuUtilization({100, 300}, {90, 400}), 0.0);   // counters went back
}

TEST(HostMetrics, MeminfoUsedIsTotalMinusAvailable) {
  const MemoryInfo memory = ParseMeminfo(
      "MemTotal:       16000000 kB\n"
      "MemFree:         1000000 kB\n"
      "MemAvailable:    6000000 kB\n");
  EXPECT_EQ(memory.total_bytes, 16000000ull * 1024);
  EXPECT_EQ(memory.used_bytes(), 10000000ull * 1024);
  EXPECT_THROW(ParseMeminfo("MemTotal: 1 kB\n"), Error);
}

TEST(HostMetrics, SamplerReadsThisMachine) {
  HostSampler sampler(/*gpus=*/false);
  EXPECT_EQ(sampler.gpu_status(), "not asked for");
  const HostSample sample = sampler.Sample();
  ASSERT_TRUE(sample.cpu_utilization.has_value());
  EXPECT_GE(*sample.cpu_utilization, 0.0);
  EXPECT_LE(*sample.cpu_utilization, 1.0);
  ASSERT_TRUE(sample.memory.has_value());
  EXPECT_GT(sample.memory->total_bytes, sample.memory->used_bytes());
  EXPECT_TRUE(sample.gpus.empty());
}

// With NVIDIA's driver absent (CI), GPUs asked for are simply missing, and the reason said; with
// it present, every GPU has Triton's uuid form and readings in their ranges.
TEST(HostMetrics, GpusAskedForComeFromNvmlWhereItIsPresent) {
  HostSampler sampler(/*gpus=*/true);
  const HostSample sample = sampler.Sample();
  if (sampler.gpu_status().rfind("NVML: ", 0) != 0) {
    EXPECT_EQ(sampler.gpu_status().rfind("no NVML", 0), 0u) << sampler.gpu_status();
    EXPECT_TRUE(sample.gpus.empty());
    return;
  }
  for (const GpuSample& gpu : sample.gpus) {
    EXPECT_EQ(gpu.uuid.rfind("GPU-", 0), 0u) << gpu.uuid;
    EXPECT_GE(gpu.utilization, 0.0);
    EXPECT_LE(gpu.utilization, 1.0);
    EXPECT_GT(gpu.memory_total_bytes, 0u);
    EXPECT_LE(gpu.memory_used_bytes, gpu.memory_total_bytes);
    EXPECT_GE(gpu.power_w, 0.0);
  }
}

}  // namespace
}  // namespace sonic::service
