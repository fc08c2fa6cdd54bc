#include "core/sysinfo.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

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
  // AMX exactly where CPUID reports it. A tile dot product does 8-16 times the work of a vector
  // one in a few times its issue interval, so half the vector peak of its precision is a loose
  // floor that a latency-bound kernel or a units slip would still miss. Where the measurement
  // fails, the kernel field says why and the test shows it.
  const IsaFlags amx = CpuidAmxFlags();
  // A kernel or hypervisor that refuses the tile state (arch_prctl fails) is the machine's
  // choice, not a fault of the measurement: the peaks are then 0 and the field says so.
  const auto refused = [](const std::string& kernel) {
    return kernel.starts_with("amx: arch_prctl(ARCH_REQ_XCOMP_PERM) failed");
  };
  if (amx.amx_tile && amx.amx_bf16 && refused(peaks.amx_bf16_kernel)) {
    EXPECT_EQ(peaks.amx_bf16_gflops_all, 0.0) << peaks.amx_bf16_kernel;
  } else if (amx.amx_tile && amx.amx_bf16) {
    EXPECT_EQ(peaks.amx_bf16_kernel, "amx_bf16");
    EXPECT_GT(peaks.amx_bf16_gflops_per_core, 0.0);
    EXPECT_GT(peaks.amx_bf16_gflops_all,
              0.5 * std::max(peaks.bf16_gflops_all, peaks.fp32_gflops_all));
  } else {
    EXPECT_EQ(peaks.amx_bf16_kernel, "");
    EXPECT_EQ(peaks.amx_bf16_gflops_per_core, 0.0);
    EXPECT_EQ(peaks.amx_bf16_gflops_all, 0.0);
  }
  if (amx.amx_tile && amx.amx_int8 && refused(peaks.amx_int8_kernel)) {
    EXPECT_EQ(peaks.amx_int8_gops_all, 0.0) << peaks.amx_int8_kernel;
  } else if (amx.amx_tile && amx.amx_int8) {
    EXPECT_EQ(peaks.amx_int8_kernel, "amx_int8");
    EXPECT_GT(peaks.amx_int8_gops_per_core, 0.0);
    EXPECT_GT(peaks.amx_int8_gops_all, 0.5 * peaks.int8_gops_all);
  } else {
    EXPECT_EQ(peaks.amx_int8_kernel, "");
    EXPECT_EQ(peaks.amx_int8_gops_per_core, 0.0);
    EXPECT_EQ(peaks.amx_int8_gops_all, 0.0);
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

TEST(CpuidAmxFlags, AgreeWithProcCpuinfo) {
  const IsaFlags cpuid = CpuidAmxFlags();
  const IsaFlags cpuinfo = ProbeSystem(false).cpu.isa;
  EXPECT_EQ(cpuid.amx_tile, cpuinfo.amx_tile);
  EXPECT_EQ(cpuid.amx_bf16, cpuinfo.amx_bf16);
  EXPECT_EQ(cpuid.amx_int8, cpuinfo.amx_int8);
  EXPECT_EQ(IsaNames(cpuid).find("avx"), std::string::npos) << "only the AMX fields are read";
}

// Peaks of a CPU with every unit, fp32 < bf16 < int8 and AMX above each; each test removes some.
MeasuredPeaks AllPeaks() {
  MeasuredPeaks peaks;
  peaks.fp32_kernel = "avx512f";
  peaks.fp32_gflops_all = 400.0;
  peaks.int8_kernel = "avx512_vnni";
  peaks.int8_gops_all = 1600.0;
  peaks.bf16_kernel = "avx512_bf16";
  peaks.bf16_gflops_all = 800.0;
  peaks.amx_bf16_kernel = "amx_bf16";
  peaks.amx_bf16_gflops_all = 9000.0;
  peaks.amx_int8_kernel = "amx_int8";
  peaks.amx_int8_gops_all = 18000.0;
  return peaks;
}

TEST(PeakForShare, EachPrecisionUsesTheFastestUnitMeasuredForIt) {
  const MeasuredPeaks peaks = AllPeaks();
  EXPECT_EQ(PeakForShare(peaks, Precision::kFp32), (SharePeak{"avx512f", 400.0}));
  EXPECT_EQ(PeakForShare(peaks, Precision::kBf16), (SharePeak{"amx_bf16", 9000.0}));
  EXPECT_EQ(PeakForShare(peaks, Precision::kInt8), (SharePeak{"amx_int8", 18000.0}));
  for (const Precision precision : {Precision::kTf32, Precision::kFp16, Precision::kBfp8}) {
    EXPECT_EQ(PeakForShare(peaks, precision), SharePeak{}) << PrecisionName(precision);
    EXPECT_EQ(std::count(std::begin(kSharePrecisions), std::end(kSharePrecisions), precision), 0);
  }
  for (const Precision precision : kSharePrecisions) {
    EXPECT_GT(PeakForShare(peaks, precision).rate, 0.0) << PrecisionName(precision);
  }
}

TEST(PeakForShare, WithoutAmxFiguresBf16AndInt8UseTheirVectorPeaks) {
  MeasuredPeaks peaks = AllPeaks();
  // A failed AMX measurement leaves its explanation and a zero rate: the vector peak stands.
  peaks.amx_bf16_kernel = "amx: the measurement died with SIGILL (Illegal instruction)";
  peaks.amx_bf16_gflops_all = 0.0;
  peaks.amx_int8_kernel = "";
  peaks.amx_int8_gops_all = 0.0;
  EXPECT_EQ(PeakForShare(peaks, Precision::kBf16), (SharePeak{"avx512_bf16", 800.0}));
  EXPECT_EQ(PeakForShare(peaks, Precision::kInt8), (SharePeak{"avx512_vnni", 1600.0}));
  // Without avx512_bf16 either, bf16 runs on the FMA units.
  peaks.bf16_kernel = "";
  peaks.bf16_gflops_all = 0.0;
  EXPECT_EQ(PeakForShare(peaks, Precision::kBf16), (SharePeak{"avx512f", 400.0}));
  EXPECT_EQ(PeakForShare(peaks, Precision::kFp32), (SharePeak{"avx512f", 400.0}));
}

TEST(PeakForShare, AmxCountsOnlyForItsOwnPrecision) {
  MeasuredPeaks peaks = AllPeaks();
  peaks.amx_int8_kernel = "";
  peaks.amx_int8_gops_all = 0.0;
  EXPECT_EQ(PeakForShare(peaks, Precision::kInt8), (SharePeak{"avx512_vnni", 1600.0}));
  EXPECT_EQ(PeakForShare(peaks, Precision::kBf16), (SharePeak{"amx_bf16", 9000.0}));
}

// MeasureInChild is the safety net of the AMX measurement, which this machine may lack: each
// test's child does what a faulty AMX kernel could do, and this process must carry on with the
// reason.
constexpr std::chrono::milliseconds kChildTimeout{20'000};

TEST(MeasureInChild, ReturnsWhatTheChildMeasured) {
  const int threads = 4;
  const AmxOutcome outcome = MeasureInChild(
      [threads] {
        AmxRates rates;
        rates.bf16_gflops_per_core = 1.5;
        rates.bf16_gflops_all = 1.5 * threads;
        rates.int8_gops_per_core = 3.0;
        rates.int8_gops_all = 3.0 * threads;
        rates.permission_errno = 22;
        return rates;
      },
      kChildTimeout);
  EXPECT_EQ(outcome.failure, "");
  EXPECT_EQ(outcome.rates.bf16_gflops_per_core, 1.5);
  EXPECT_EQ(outcome.rates.bf16_gflops_all, 6.0);
  EXPECT_EQ(outcome.rates.int8_gops_per_core, 3.0);
  EXPECT_EQ(outcome.rates.int8_gops_all, 12.0);
  EXPECT_EQ(outcome.rates.permission_errno, 22);
}

TEST(MeasureInChild, AChildKilledByASignalIsReportedByItsName) {
  // What an AMX instruction without the kernel's permission does: #UD, SIGILL.
  const AmxOutcome outcome = MeasureInChild([]() -> AmxRates { __builtin_trap(); }, kChildTimeout);
  EXPECT_EQ(outcome.failure, "the measurement died with SIGILL (Illegal instruction)");
  EXPECT_EQ(outcome.rates.bf16_gflops_all, 0.0);
}

TEST(MeasureInChild, AChildPastTheTimeoutIsKilled) {
  const auto start = std::chrono::steady_clock::now();
  const AmxOutcome outcome = MeasureInChild(
      [] {
        std::this_thread::sleep_for(std::chrono::seconds(60));
        return AmxRates{};
      },
      std::chrono::milliseconds(200));
  EXPECT_EQ(outcome.failure, "the measurement did not finish in 0.2 s and was killed");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(MeasureInChild, AChildThatThrowsOrEndsWithoutAReportIsAFailure) {
  const auto throws = []() -> AmxRates { throw std::runtime_error("no tiles"); };
  EXPECT_EQ(MeasureInChild(throws, kChildTimeout).failure, "the measurement threw an exception");
  const auto exits = []() -> AmxRates { _exit(0); };
  EXPECT_EQ(
      MeasureInChild(exits, kChildTimeout).failure,
      fmt::format("the measurement ended with a report of 0 bytes, not {}", sizeof(AmxRates)));
}

// The real AMX measurement asked for units this CPU lacks: the kernel refuses the AMX state (or,
// were it to grant it, the first tile instruction faults in the child), and the peaks say so.
TEST(MeasureAmxPeaks, UnitsTheCpuLacksAreReportedNotMeasured) {
  if (CpuidAmxFlags().amx_tile) {
    GTEST_SKIP() << "this CPU has AMX: ProbeSystem.MeasuredPeaksArePositiveAndInUnits measures it";
  }
  IsaFlags units;
  units.amx_tile = units.amx_bf16 = units.amx_int8 = true;
  MeasuredPeaks peaks;
  MeasureAmxPeaks(units, 2, peaks);
  EXPECT_EQ(peaks.amx_bf16_kernel.rfind("amx: ", 0), 0u) << peaks.amx_bf16_kernel;
  EXPECT_EQ(peaks.amx_int8_kernel, peaks.amx_bf16_kernel);
  EXPECT_EQ(peaks.amx_bf16_gflops_all, 0.0);
  EXPECT_EQ(peaks.amx_int8_gops_all, 0.0);
  EXPECT_EQ(peaks.amx_int8_gops_per_core, 0.0);
  // Without amx_tile the dot-product units are not measured at all.
  units.amx_tile = false;
  MeasuredPeaks untouched;
  MeasureAmxPeaks(units, 2, untouched);
  EXPECT_EQ(untouched.amx_bf16_kernel, "");
  EXPECT_EQ(untouched.amx_int8_kernel, "");
}

}  // namespace
}  // namespace sonic
