#include "core/sysinfo.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sonic {
namespace {

// Two sockets, two cores each, two hyperthreads per core: 8 processor entries.
std::string TwoSocketCpuInfo() {
  std::string text;
  int processor = 0;
  for (int socket = 0; socket < 2; ++socket) {
    for (int thread = 0; thread < 2; ++thread) {
      for (int core = 0; core < 2; ++core) {
        text += fmt::format(
            "processor\t: {}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) "
            "Platinum 8480+\ncpu MHz\t\t: 2000.000\nphysical id\t: {}\ncore id\t\t: {}\n"
            "flags\t\t: fpu sse avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile "
            "amx_int8\n\n",
            processor++, socket, core);
      }
    }
  }
  return text;
}

TEST(ParseCpuInfo, CountsSocketsCoresAndThreads) {
  const CpuInfo info = ParseCpuInfo(TwoSocketCpuInfo());
  EXPECT_EQ(info.vendor, "GenuineIntel");
  EXPECT_EQ(info.model_name, "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_EQ(info.sockets, 2);
  EXPECT_EQ(info.cores, 4);
  EXPECT_EQ(info.threads, 8);
  EXPECT_DOUBLE_EQ(info.clock_mhz, 2000.0);
}

TEST(ParseCpuInfo, ReadsIsaFlagsAsWholeWords) {
  const CpuInfo info = ParseCpuInfo(TwoSocketCpuInfo());
  EXPECT_TRUE(info.isa.avx2);
  EXPECT_TRUE(info.isa.fma);
  EXPECT_TRUE(info.isa.avx512f);
  EXPECT_TRUE(info.isa.avx512_vnni);
  EXPECT_TRUE(info.isa.avx512_bf16);
  EXPECT_TRUE(info.isa.amx_tile);
  EXPECT_TRUE(info.isa.amx_bf16);
  EXPECT_TRUE(info.isa.amx_int8);

  // "avx512fp16" must not count as "avx512f", nor "avx512_vnni_x" as "avx512_vnni".
  const CpuInfo other = ParseCpuInfo("processor : 0\nflags : sse avx512fp16 avx512_vnni_x avx2\n");
  EXPECT_TRUE(other.isa.avx2);
  EXPECT_FALSE(other.isa.avx512f);
  EXPECT_FALSE(other.isa.avx512_vnni);
  EXPECT_FALSE(other.isa.fma);
}

TEST(ParseCpuInfo, WithoutTopologyLinesEachProcessorIsACore) {
  const CpuInfo info = ParseCpuInfo("processor : 0\nmodel name : vCPU\n\nprocessor : 1\n");
  EXPECT_EQ(info.sockets, 1);
  EXPECT_EQ(info.cores, 2);
  EXPECT_EQ(info.threads, 2);
  EXPECT_EQ(info.clock_mhz, 0.0);
}

TEST(ParseCpuInfo, RejectsTextWithoutProcessors) {
  EXPECT_THROW(ParseCpuInfo("MemTotal: 1 kB\n"), Error);
}

TEST(ParseMemTotalBytes, ReadsKibibytes) {
  EXPECT_EQ(ParseMemTotalBytes("MemTotal:       24684084 kB\nMemFree: 1 kB\n"),
            std::int64_t{24684084} * 1024);
  EXPECT_THROW(ParseMemTotalBytes("MemFree: 1 kB\n"), Error);
  EXPECT_THROW(ParseMemTotalBytes("MemTotal: lots kB\n"), Error);
}

TEST(ParseCacheSize, ReadsSysfsSuffixes) {
  EXPECT_EQ(ParseCacheSize("32K\n"), 32 * 1024);
  EXPECT_EQ(ParseCacheSize("32M"), std::int64_t{32} << 20);
  EXPECT_EQ(ParseCacheSize("512"), 512);
  EXPECT_THROW(ParseCacheSize("K"), Error);
  EXPECT_THROW(ParseCacheSize("big"), Error);
}

TEST(TheoreticalFp32GflopsPerCore, CountsLanesPipesAndFlopPerFma) {
  IsaFlags avx512;
  avx512.avx512f = true;
  EXPECT_DOUBLE_EQ(TheoreticalFp32GflopsPerCore(avx512, 2000.0), 2.0 * 16 * 2 * 2);
  EXPECT_DOUBLE_EQ(TheoreticalFp32GflopsPerCore(IsaFlags{}, 2000.0), 2.0 * 8 * 2 * 2);
}

TEST(ProbeSystem, DescribesThisMachineWithoutPeaks) {
  const SystemInfo info = ProbeSystem(false);
  EXPECT_GE(info.cpu.threads, 1);
  EXPECT_GE(info.online_cpus, 1);
  EXPECT_GT(info.memory_bytes, 0);
  EXPECT_FALSE(info.peaks_measured);
  EXPECT_EQ(info.peaks.fp32_gflops_all, 0.0);
}

// Not a timing assertion: the peaks must be positive and in the right units, i.e. the FMA peak
// of one core is within a generous factor of what its clock allows (a busy machine lowers it;
// "cpu MHz" can be an idle clock far below turbo, which raises it up to about 6x; the unoptimised
// sanitizer build runs the kernel from memory at 1/45-1/65 of the clock's bound; a units slip
// would be off by 1000).
TEST(ProbeSystem, MeasuredPeaksArePositiveAndInUnits) {
  const SystemInfo info = ProbeSystem(true);
  ASSERT_TRUE(info.peaks_measured);
  const MeasuredPeaks& peaks = info.peaks;
  EXPECT_GT(peaks.fp32_gflops_per_core, 0.0);
  EXPECT_GT(peaks.fp32_gflops_all, 0.0);
  EXPECT_GT(peaks.int8_gops_per_core, 0.0);
  EXPECT_GT(peaks.int8_gops_all, 0.0);
  EXPECT_GT(peaks.stream_triad_gbs, 0.0);
  EXPECT_EQ(peaks.threads, info.online_cpus);
  EXPECT_FALSE(peaks.fp32_kernel.empty());
  EXPECT_FALSE(peaks.int8_kernel.empty());
  // bf16 exactly where the CPU reports avx512_bf16; vdpbf16ps does two products per fp32 lane, so
  // it cannot be slower than a quarter of the FMA rate nor faster than four times it.
  EXPECT_EQ(peaks.bf16_kernel.empty(), !info.cpu.isa.avx512_bf16);
  if (info.cpu.isa.avx512_bf16) {
    EXPECT_GT(peaks.bf16_gflops_all, 0.25 * peaks.fp32_gflops_all);
    EXPECT_LT(peaks.bf16_gflops_all, 4.0 * peaks.fp32_gflops_all);
  } else {
    EXPECT_EQ(peaks.bf16_gflops_all, 0.0);
  }
  if (info.cpu.clock_mhz > 0.0) {
    const double bound = TheoreticalFp32GflopsPerCore(info.cpu.isa, info.cpu.clock_mhz);
    EXPECT_LT(peaks.fp32_gflops_per_core, 8.0 * bound);
    EXPECT_GT(peaks.fp32_gflops_per_core, bound / 200.0);
  }
  // No lower bound: the triad is plain C++, and an unoptimised sanitizer build or a loaded machine
  // runs it far below the memory system's speed. An upper bound still catches a units error.
  EXPECT_LT(peaks.stream_triad_gbs, 10'000.0);
}

}  // namespace
}  // namespace sonic
