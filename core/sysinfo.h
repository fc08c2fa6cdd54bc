#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace sonic {

// What the host is and what it can do, recorded in every result file so that a throughput can be
// read against the machine's measured limits. Peaks are measured, not looked up: a VM's CPU
// model name and nominal clock say little about what its vCPUs actually deliver.

struct CacheLevel {
  int level = 0;
  std::string type;             // "Data", "Instruction", "Unified"
  std::int64_t size_bytes = 0;  // per instance
  int instances = 0;            // how many of this cache the online CPUs see
};

// Instruction-set extensions that decide which kernels a backend can use.
struct IsaFlags {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
  bool amx_tile = false;
  bool amx_bf16 = false;
  bool amx_int8 = false;
};

// The part of /proc/cpuinfo that ProbeSystem reads, parsed from text so that it is testable.
struct CpuInfo {
  std::string vendor;
  std::string model_name;
  int sockets = 0;         // distinct "physical id"
  int cores = 0;           // distinct ("physical id", "core id") pairs
  int threads = 0;         // "processor" entries (logical CPUs)
  double clock_mhz = 0.0;  // the first processor's "cpu MHz" (nominal on most VMs)
  IsaFlags isa;
};

// Peaks measured by small kernels that run from registers or stream from memory; they bound
// what any backend can reach on this machine. The compute peaks are rates per second of CPU time
// on each thread (best of short bursts), summed over threads, so that other processes sharing the
// cores do not lower them; the memory bandwidth is wall-clock, best of ten triads.
struct MeasuredPeaks {
  int threads = 0;                    // threads used for the all-core figures
  std::string fp32_kernel;            // "avx512f" or "avx2"
  double fp32_gflops_per_core = 0.0;  // FMA, 2 FLOP per lane
  double fp32_gflops_all = 0.0;
  std::string int8_kernel;          // "avx512_vnni" or "avx2"
  double int8_gops_per_core = 0.0;  // u8 x s8 multiply-add, 2 OP per multiply-accumulate
  double int8_gops_all = 0.0;
  // vdpbf16ps, 2 FLOP per bf16 product; empty kernel and zero where the CPU lacks avx512_bf16.
  std::string bf16_kernel;
  double bf16_gflops_per_core = 0.0;
  double bf16_gflops_all = 0.0;
  // AMX tile dot products, measured in a child process (MeasureInChild): tdpbf16ps (16x16 fp32
  // += 16x32 bf16 x 32x16 bf16, 16384 FLOP) and tdpbusd (16x16 int32 += 16x64 u8 x 64x16 s8,
  // 32768 OP). Kernel "amx_bf16" / "amx_int8" where measured; empty where CPUID reports no such
  // unit (CpuidAmxFlags); "amx: <why not>" where it does but no figure came back (the kernel
  // refused the AMX state, the measurement died or hung). The rates are 0 unless measured.
  std::string amx_bf16_kernel;
  double amx_bf16_gflops_per_core = 0.0;
  double amx_bf16_gflops_all = 0.0;
  std::string amx_int8_kernel;
  double amx_int8_gops_per_core = 0.0;
  double amx_int8_gops_all = 0.0;
  double stream_triad_gbs = 0.0;  // STREAM triad a = b + s*c on doubles, 24 bytes per element
};

struct SystemInfo {
  std::string hostname;
  std::string kernel;  // uname -sr
  CpuInfo cpu;
  int online_cpus = 0;  // CPUs this process may run on (its affinity mask)
  std::vector<CacheLevel> caches;
  std::int64_t memory_bytes = 0;  // MemTotal
  bool peaks_measured = false;
  MeasuredPeaks peaks;  // zero unless peaks_measured
};

// Parses /proc/cpuinfo text (x86 layout). Missing fields stay at their defaults; a text with no
// "processor" entry throws Error(kInvalidArgument).
CpuInfo ParseCpuInfo(std::string_view text);

// The host's CPU model name ("model name" of /proc/cpuinfo); "unknown CPU" when there is none.
std::string HostCpuModel();

// Parses MemTotal from /proc/meminfo text, in bytes; throws Error(kInvalidArgument) without it.
std::int64_t ParseMemTotalBytes(std::string_view text);

// Parses a sysfs cache size ("32K", "1024K", "32M"), in bytes; throws Error(kInvalidArgument).
std::int64_t ParseCacheSize(std::string_view text);

// The flags that are set, space-separated in the order of IsaFlags ("avx2 fma avx512f ...").
std::string IsaNames(const IsaFlags& isa);

// Upper bound on fp32 FLOP/s of one core at `clock_mhz` for the widest FMA the CPU has: two
// FMA pipes per core of 16 (AVX-512) or 8 (AVX2) lanes, 2 FLOP each. No current x86 core
// exceeds it at that clock; turbo can lift the real clock above a nominal `clock_mhz`.
double TheoreticalFp32GflopsPerCore(const IsaFlags& isa, double clock_mhz);

// Reads /proc and /sys; with `measure_peaks`, also runs the peak kernels (1-2 s on an
// idle machine, all online CPUs busy). Throws Error(kIo) when /proc/cpuinfo cannot be read.
SystemInfo ProbeSystem(bool measure_peaks);

// The AMX units as CPUID reports them (leaf 7, sub-leaf 0, EDX bits 24 amx_tile, 22 amx_bf16,
// 25 amx_int8); the other fields stay false. The AMX peaks are measured where these are set;
// /proc/cpuinfo (ParseCpuInfo) lists the same wherever the kernel enables AMX.
IsaFlags CpuidAmxFlags();

// The measured peak that a share-of-peak figure of `precision` is read against: the peak of its
// own precision and of the fastest unit sysinfo measured for it. fp32: the FMA peak. bf16: the
// AMX peak where measured (nonzero), else the AVX-512 bf16 peak, else the fp32 one (a CPU with
// neither computes bf16 in fp32). int8: the AMX peak where measured, else the VNNI/AVX2 one.
// Other precisions have no measured peak: an empty kernel and 0.
struct SharePeak {
  std::string kernel;  // the MeasuredPeaks kernel the rate is of: "avx512f", "amx_bf16", ...
  double rate = 0.0;   // all threads; GFLOP/s, GOP/s for int8

  friend bool operator==(const SharePeak&, const SharePeak&) = default;
};
SharePeak PeakForShare(const MeasuredPeaks& peaks, Precision precision);
// The precisions PeakForShare has a peak for.
inline constexpr Precision kSharePrecisions[] = {Precision::kFp32, Precision::kBf16,
                                                 Precision::kInt8};

// The AMX figures as the measuring child process reports them: plain numbers, copied through a
// pipe.
struct AmxRates {
  int permission_errno = 0;  // errno of arch_prctl(ARCH_REQ_XCOMP_PERM); 0 when it was granted
  double bf16_gflops_per_core = 0.0;
  double bf16_gflops_all = 0.0;
  double int8_gops_per_core = 0.0;
  double int8_gops_all = 0.0;
};
struct AmxOutcome {
  AmxRates rates;       // zero unless the child reported
  std::string failure;  // why it did not ("the measurement died with SIGILL ..."); else empty
};

// Runs `measure` in a forked child process, so that a fault there (an instruction the kernel does
// not allow, a crash, a hang) costs the figures and not this process; a child still running after
// `timeout` is killed. The child ends with _exit: this process's atexit handlers and stdio buffers
// do not run twice. Exposed for its tests; ProbeSystem measures the AMX peaks through it.
AmxOutcome MeasureInChild(const std::function<AmxRates()>& measure,
                          std::chrono::milliseconds timeout);

// Fills the AMX fields of `peaks` for each unit of `units` that has amx_tile too (ProbeSystem
// passes CpuidAmxFlags()): its rates on one thread and on `threads`, or in its kernel field why
// there are none. Exposed so that a test can ask for units the CPU lacks.
void MeasureAmxPeaks(const IsaFlags& units, int threads, MeasuredPeaks& peaks);

}  // namespace sonic
