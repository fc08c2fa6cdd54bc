#include <fmt/format.h>

#include <string>
#include <string_view>

#include "bench/cli/commands.h"
#include "bench/cli/json.h"
#include "core/sysinfo.h"

namespace sonic::cli {
namespace {

std::string HumanBytes(std::int64_t bytes) {
  if (bytes >= (std::int64_t{1} << 30)) return fmt::format("{:.1f} GiB", bytes / 1073741824.0);
  if (bytes >= (std::int64_t{1} << 20)) return fmt::format("{} MiB", bytes >> 20);
  return fmt::format("{} KiB", bytes >> 10);
}

// One AMX peak where CPUID reports the unit: its rates, or why there are none.
void PrintAmxPeak(std::string_view label, const std::string& kernel, double per_core, double all,
                  std::string_view unit, int threads) {
  if (kernel.empty()) return;
  if (all > 0.0) {
    fmt::print("{:<10} {:.1f} {} per core, {:.1f} {} on {} threads ({})\n", label, per_core, unit,
               all, unit, threads, kernel);
  } else {
    fmt::print("{:<10} not measured ({})\n", label, kernel);
  }
}

void PrintText(const SystemInfo& info) {
  const CpuInfo& cpu = info.cpu;
  fmt::print("host       {} ({})\n", info.hostname, info.kernel);
  fmt::print("cpu        {} ({}), {:.0f} MHz nominal\n", cpu.model_name, cpu.vendor, cpu.clock_mhz);
  fmt::print("topology   {} socket(s), {} core(s), {} thread(s); {} CPU(s) usable here\n",
             cpu.sockets, cpu.cores, cpu.threads, info.online_cpus);
  for (const CacheLevel& cache : info.caches) {
    fmt::print("cache      L{} {:<11} {} x {}\n", cache.level, cache.type,
               HumanBytes(cache.size_bytes), cache.instances);
  }
  fmt::print("memory     {}\n", HumanBytes(info.memory_bytes));
  const std::string isa = IsaNames(cpu.isa);
  fmt::print("isa        {}\n", isa.empty() ? "none of the tracked extensions" : isa);
  if (!info.peaks_measured) return;
  const MeasuredPeaks& peaks = info.peaks;
  fmt::print("fp32 peak  {:.1f} GFLOP/s per core, {:.1f} GFLOP/s on {} threads ({} FMA)\n",
             peaks.fp32_gflops_per_core, peaks.fp32_gflops_all, peaks.threads, peaks.fp32_kernel);
  fmt::print("int8 peak  {:.1f} GOP/s per core, {:.1f} GOP/s on {} threads ({})\n",
             peaks.int8_gops_per_core, peaks.int8_gops_all, peaks.threads, peaks.int8_kernel);
  if (!peaks.bf16_kernel.empty()) {
    fmt::print("bf16 peak  {:.1f} GFLOP/s per core, {:.1f} GFLOP/s on {} threads ({})\n",
               peaks.bf16_gflops_per_core, peaks.bf16_gflops_all, peaks.threads, peaks.bf16_kernel);
  }
  PrintAmxPeak("amx bf16", peaks.amx_bf16_kernel, peaks.amx_bf16_gflops_per_core,
               peaks.amx_bf16_gflops_all, "GFLOP/s", peaks.threads);
  PrintAmxPeak("amx int8", peaks.amx_int8_kernel, peaks.amx_int8_gops_per_core,
               peaks.amx_int8_gops_all, "GOP/s", peaks.threads);
  fmt::print("memory bw  {:.1f} GB/s (STREAM triad, {} threads)\n", peaks.stream_triad_gbs,
             peaks.threads);
  std::string shares;
  for (const Precision precision : kSharePrecisions) {
    const SharePeak peak = PeakForShare(peaks, precision);
    if (!shares.empty()) shares += ", ";
    shares += fmt::format("{} of the {} peak", PrecisionName(precision), peak.kernel);
  }
  fmt::print("shares     {}\n", shares);
}

// {"fp32": {"kernel": ..., "rate": ...}, ...}: the peak each precision's share-of-peak figures
// are read against, so that scripts take sysinfo's choice instead of making their own.
JsonObject SharePeaksJson(const MeasuredPeaks& peaks) {
  JsonObject object;
  for (const Precision precision : kSharePrecisions) {
    const SharePeak peak = PeakForShare(peaks, precision);
    object.Add(PrecisionName(precision),
               JsonObject().Add("kernel", peak.kernel).Add("rate", peak.rate));
  }
  return object;
}

void PrintJson(const SystemInfo& info) {
  const CpuInfo& cpu = info.cpu;
  JsonArray caches;
  for (const CacheLevel& cache : info.caches) {
    caches.Append(JsonObject()
                      .Add("level", cache.level)
                      .Add("type", cache.type)
                      .Add("size_bytes", cache.size_bytes)
                      .Add("instances", cache.instances));
  }
  const IsaFlags& isa = cpu.isa;
  JsonObject object;
  object.Add("hostname", info.hostname)
      .Add("kernel", info.kernel)
      .Add("cpu", JsonObject()
                      .Add("vendor", cpu.vendor)
                      .Add("model_name", cpu.model_name)
                      .Add("sockets", cpu.sockets)
                      .Add("cores", cpu.cores)
                      .Add("threads", cpu.threads)
                      .Add("clock_mhz", cpu.clock_mhz))
      .Add("online_cpus", info.online_cpus)
      .Add("caches", caches)
      .Add("memory_bytes", info.memory_bytes)
      .Add("isa", JsonObject()
                      .Add("avx2", isa.avx2)
                      .Add("fma", isa.fma)
                      .Add("avx512f", isa.avx512f)
                      .Add("avx512_bf16", isa.avx512_bf16)
                      .Add("avx512_vnni", isa.avx512_vnni)
                      .Add("amx_tile", isa.amx_tile)
                      .Add("amx_bf16", isa.amx_bf16)
                      .Add("amx_int8", isa.amx_int8));
  if (info.peaks_measured) {
    const MeasuredPeaks& peaks = info.peaks;
    object.Add("peaks", JsonObject()
                            .Add("threads", peaks.threads)
                            .Add("fp32_kernel", peaks.fp32_kernel)
                            .Add("fp32_gflops_per_core", peaks.fp32_gflops_per_core)
                            .Add("fp32_gflops_all", peaks.fp32_gflops_all)
                            .Add("int8_kernel", peaks.int8_kernel)
                            .Add("int8_gops_per_core", peaks.int8_gops_per_core)
                            .Add("int8_gops_all", peaks.int8_gops_all)
                            .Add("bf16_kernel", peaks.bf16_kernel)
                            .Add("bf16_gflops_per_core", peaks.bf16_gflops_per_core)
                            .Add("bf16_gflops_all", peaks.bf16_gflops_all)
                            .Add("amx_bf16_kernel", peaks.amx_bf16_kernel)
                            .Add("amx_bf16_gflops_per_core", peaks.amx_bf16_gflops_per_core)
                            .Add("amx_bf16_gflops_all", peaks.amx_bf16_gflops_all)
                            .Add("amx_int8_kernel", peaks.amx_int8_kernel)
                            .Add("amx_int8_gops_per_core", peaks.amx_int8_gops_per_core)
                            .Add("amx_int8_gops_all", peaks.amx_int8_gops_all)
                            .Add("stream_triad_gbs", peaks.stream_triad_gbs)
                            .Add("share_peaks", SharePeaksJson(peaks)));
  } else {
    object.AddNull("peaks");
  }
  fmt::print("{}\n", object.str());
}

}  // namespace

void RegisterSysinfoCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sysinfo",
      "Describe this machine and measure its fp32, int8, bf16, AMX and memory-bandwidth peaks");
  struct Options {
    bool json = false;
    bool no_peaks = false;
  };
  auto options = std::make_shared<Options>();
  cmd->add_flag("--json", options->json, "Print one JSON object instead of text");
  cmd->add_flag("--no-peaks", options->no_peaks,
                "Skip the peak measurements (they keep every CPU busy for 1-2 s)");
  cmd->footer(
      "Peaks are measured, best of a few runs: fp32 with an FMA kernel in registers (AVX-512 or\n"
      "AVX2), int8 with VNNI vpdpbusd (or the AVX2 sequence), bf16 with vdpbf16ps, AMX bf16 and\n"
      "int8 with tile dot products (in a child process), memory with a STREAM triad. Run on an\n"
      "idle machine: other load lowers them.\n"
      "Examples:\n"
      "  sonicbench sysinfo\n"
      "  sonicbench sysinfo --json\n"
      "  taskset -c 0 sonicbench sysinfo --no-peaks");
  cmd->callback([options] {
    const SystemInfo info = ProbeSystem(!options->no_peaks);
    if (options->json) {
      PrintJson(info);
    } else {
      PrintText(info);
    }
  });
}

}  // namespace sonic::cli
