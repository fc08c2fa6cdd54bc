#include "core/sysinfo.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <fcntl.h>
#include <immintrin.h>
#include <omp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <utility>

#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "core/parse.h"

namespace sonic {
namespace {

// Splits "key<tabs>: value" lines; returns false for lines without a colon.
bool SplitKeyValue(std::string_view line, std::string_view& key, std::string_view& value) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  key = Trim(line.substr(0, colon));
  value = Trim(line.substr(colon + 1));
  return true;
}

// Kernel text holds numbers the one parser reads; a field that is not one is skipped.
bool ParseNumber(std::string_view text, int& out) {
  const std::optional<std::int64_t> value = TryParseInt(text);
  if (!value || *value < std::numeric_limits<int>::min() ||
      *value > std::numeric_limits<int>::max()) {
    return false;
  }
  out = static_cast<int>(*value);
  return true;
}
bool ParseNumber(std::string_view text, std::int64_t& out) {
  const std::optional<std::int64_t> value = TryParseInt(text);
  if (value) out = *value;
  return value.has_value();
}
bool ParseNumber(std::string_view text, double& out) {
  const std::optional<double> value = TryParseDouble(text);
  if (value) out = *value;
  return value.has_value();
}

bool HasFlag(std::string_view flags, std::string_view flag) {
  std::size_t pos = 0;
  while (pos < flags.size()) {
    const auto end = std::min(flags.find(' ', pos), flags.size());
    if (flags.substr(pos, end - pos) == flag) return true;
    pos = end + 1;
  }
  return false;
}

// A kernel file, empty when absent (a container without /sys).
std::string ReadFile(const std::filesystem::path& path) {
  return TryReadWholeFile(path).value_or("");
}

int OnlineCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return CPU_COUNT(&set);
}

// Distinct caches seen by the online CPUs; instances are counted by their shared_cpu_list.
std::vector<CacheLevel> ReadCaches() {
  namespace fs = std::filesystem;
  std::set<std::tuple<int, std::string, std::string>> seen;  // level, type, shared_cpu_list
  std::vector<CacheLevel> caches;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return caches;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    const fs::path dir = fmt::format("/sys/devices/system/cpu/cpu{}/cache", cpu);
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      if (entry.path().filename().string().rfind("index", 0) != 0) continue;
      int level = 0;
      const std::string type(Trim(ReadFile(entry.path() / "type")));
      const std::string size(Trim(ReadFile(entry.path() / "size")));
      const std::string shared(Trim(ReadFile(entry.path() / "shared_cpu_list")));
      if (!ParseNumber(Trim(ReadFile(entry.path() / "level")), level) || size.empty()) continue;
      const bool first_instance = seen.emplace(level, type, shared).second;
      auto it = std::find_if(caches.begin(), caches.end(), [&](const CacheLevel& c) {
        return c.level == level && c.type == type;
      });
      if (it == caches.end()) {
        caches.push_back({level, type, ParseCacheSize(size), 0});
        it = caches.end() - 1;
      }
      if (first_instance) ++it->instances;
    }
  }
  std::sort(caches.begin(), caches.end(), [](const CacheLevel& a, const CacheLevel& b) {
    return std::tie(a.level, a.type) < std::tie(b.level, b.type);
  });
  return caches;
}

// ---- Peak kernels -------------------------------------------------------------------------
// Each kernel runs kChains independent dependency chains so that the FMA latency (4-5 cycles)
// times the number of FMA pipes (up to 2) is covered with room to spare; the operands stay in
// registers, so the figure is the core's arithmetic limit, not a memory one. Each returns the
// operations it performed (FLOP or OP); the accumulators are folded into `sink` so the
// compiler cannot drop the work.

constexpr int kChains = 12;

// Folds the fp32 accumulators of an AVX-512 kernel into `sink`.
__attribute__((target("avx512f"))) void SinkAccumulators(const __m512 (&acc)[kChains],
                                                         float& sink) {
  __m512 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm512_add_ps(total, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, total);
  for (float lane : lanes) sink += lane;
}

__attribute__((target("avx512f"))) double FmaAvx512(std::int64_t iterations, float& sink) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * static_cast<float>(c));
  // x <- x * m + a converges to a / (1 - m): no overflow, no denormals, whatever the count.
  const __m512 mul = _mm512_set1_ps(0.999f);
  const __m512 add = _mm512_set1_ps(0.001f);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  }
  SinkAccumulators(acc, sink);
  return static_cast<double>(iterations) * kChains * 16 * 2;
}

__attribute__((target("avx2,fma"))) double FmaAvx2(std::int64_t iterations, float& sink) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.001f * static_cast<float>(c));
  const __m256 mul = _mm256_set1_ps(0.999f);
  const __m256 add = _mm256_set1_ps(0.001f);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  }
  alignas(32) float lanes[8];
  __m256 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm256_add_ps(total, acc[c]);
  _mm256_store_ps(lanes, total);
  for (float lane : lanes) sink += lane;
  return static_cast<double>(iterations) * kChains * 8 * 2;
}

// vpdpbusd: 64 u8 x s8 products summed into 16 int32 lanes per instruction.
__attribute__((target("avx512f,avx512vnni"))) double DotVnni(std::int64_t iterations, float& sink) {
  __m512i acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_epi32(c);
  const __m512i a = _mm512_set1_epi8(3);
  const __m512i b = _mm512_set1_epi8(-2);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  }
  __m512i total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm512_add_epi32(total, acc[c]);
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, total);
  for (std::int32_t lane : lanes) sink += static_cast<float>(lane);
  return static_cast<double>(iterations) * kChains * 64 * 2;
}

// vdpbf16ps: 32 bf16 x bf16 products summed pairwise into 16 fp32 lanes per instruction. Each
// step adds two products of 1e-3 x 1e-3 to a lane, so a burst ends near 2.5: no overflow, no
// denormals.
__attribute__((target("avx512f,avx512bf16"))) double DotBf16(std::int64_t iterations, float& sink) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * static_cast<float>(c));
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.001f), _mm512_set1_ps(0.001f));
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, a);
  }
  SinkAccumulators(acc, sink);
  return static_cast<double>(iterations) * kChains * 32 * 2;
}

// The AVX2 int8 idiom: vpmaddubsw (32 u8 x s8 products, pairwise to int16), vpmaddwd by ones
// (to int32), vpaddd. Three instructions per 32 multiply-accumulates.
__attribute__((target("avx2"))) double DotAvx2(std::int64_t iterations, float& sink) {
  __m256i acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_epi32(c);
  const __m256i a = _mm256_set1_epi8(3);
  const __m256i b = _mm256_set1_epi8(-2);
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) {
      const __m256i pairs = _mm256_maddubs_epi16(a, b);
      acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(pairs, ones));
    }
  }
  alignas(32) std::int32_t lanes[8];
  __m256i total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm256_add_epi32(total, acc[c]);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), total);
  for (std::int32_t lane : lanes) sink += static_cast<float>(lane);
  return static_cast<double>(iterations) * kChains * 32 * 2;
}

using Kernel = double (*)(std::int64_t, float&);

// Runs `kernel` on `threads` threads at once and returns operations per second, summed over the
// threads. Each thread times itself with its own CPU-time clock, in short bursts, and keeps its
// best burst: on a shared machine other processes then take turns on the cores without lowering
// the figure (a burst of a few ms usually runs in one scheduler slice), while whatever slows the
// core itself while all threads run together (shared pipes, all-core clock) still shows.
double MeasureKernel(Kernel kernel, int threads, std::int64_t iterations_per_burst) {
  constexpr int kBursts = 20;
  std::vector<double> best(threads, 0.0);
  std::vector<float> sinks(threads, 0.0f);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int burst = 0; burst < kBursts; ++burst) {
        const std::int64_t start_ns = ThreadCpuNs();
        const double ops = kernel(iterations_per_burst, sinks[t]);
        const std::int64_t elapsed_ns = std::max<std::int64_t>(1, ThreadCpuNs() - start_ns);
        best[t] = std::max(best[t], ops / (static_cast<double>(elapsed_ns) * 1e-9));
      }
    });
  }
  for (auto& worker : workers) worker.join();
  double total = 0.0;
  for (double rate : best) total += rate;
  return total;
}

// ---- The measuring child process ------------------------------------------------------------

// The child's exit status when its report could not be written, and when `measure` threw (which
// must not unwind into the parent's code).
constexpr int kChildCannotReport = 1;
constexpr int kChildThrew = 2;

bool WriteAll(int fd, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t wrote = write(fd, bytes, size);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    bytes += wrote;
    size -= static_cast<std::size_t>(wrote);
  }
  return true;
}

// In the child: measures, writes the rates to `fd` and ends. The child uses only what a forked
// copy of a threaded process may (malloc, thread creation, clock_gettime, syscalls); _exit skips
// the atexit handlers and stdio buffers it shares with the parent. No core dump: the failure is
// reported, and the core would be a copy of the parent, gigabytes in a sweep with models loaded.
[[noreturn]] void RunChild(const std::function<AmxRates()>& measure, int fd) {
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  int status = 0;
  try {
    const AmxRates rates = measure();
    status = WriteAll(fd, &rates, sizeof(rates)) ? 0 : kChildCannotReport;
  } catch (...) {
    status = kChildThrew;
  }
  _exit(status);
}

// Reads `fd` to its end into `bytes`; returns why it stopped before the end ("did not finish in
// 60 s"), or "" at the end.
std::string ReadUntilEnd(int fd, std::chrono::milliseconds timeout, std::string& bytes) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fmt::format("the measurement did not finish in {:.3g} s and was killed",
                         std::chrono::duration<double>(timeout).count());
    }
    pollfd ready{fd, POLLIN, 0};
    const int count = poll(&ready, 1, static_cast<int>(left.count()));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      return fmt::format("waiting for the measurement failed: poll: {}", std::strerror(errno));
    }
    if (count == 0) continue;
    char buffer[256];
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fmt::format("reading the measurement failed: {}", std::strerror(errno));
    if (got == 0) return "";
    bytes.append(buffer, static_cast<std::size_t>(got));
  }
}

// ---- AMX peak kernels -----------------------------------------------------------------------
// Tiles 0-3 accumulate, 4-5 hold A and 6-7 hold B, all 16 rows of 64 bytes: each iteration issues
// four tdp* instructions into four independent accumulators from two A and two B tiles (oneDNN's
// 2x2 blocking), so that an instruction's latency (several times its issue interval) is hidden
// and the figure is the unit's throughput. The operands never leave the tiles.

// The 64-byte operand of ldtilecfg, palette 1.
struct alignas(64) TileConfig {
  std::uint8_t palette_id = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64);

constexpr int kTileRows = 16;
constexpr int kTileBytesPerRow = 64;
constexpr int kTileBytes = kTileRows * kTileBytesPerRow;
constexpr double kAmxBf16FlopPerInstruction = 16.0 * 16 * 32 * 2;
constexpr double kAmxInt8OpPerInstruction = 16.0 * 16 * 64 * 2;
// Four instructions an iteration, each 16 cycles of issue on Sapphire Rapids: about 5 ms a burst
// at 3 GHz, like the vector kernels'.
constexpr std::int64_t kAmxIterations = 250'000;
// The whole AMX measurement takes about 0.5 s of each CPU; a child still running after this is
// taken to hang.
constexpr std::chrono::seconds kAmxTimeout{60};
// The XSAVE component of the tile data (XFEATURE_XTILEDATA in Linux): what a process must ask
// for with arch_prctl(ARCH_REQ_XCOMP_PERM) before any of its threads touches a tile.
constexpr std::uint64_t kXfeatureXtileData = 18;

// Configures the eight tiles, zeroes the accumulators and loads A (tiles 4-5) and B (6-7) from
// `operand`, one tile's worth of bytes.
__attribute__((target("amx-tile"))) void LoadTiles(const std::uint8_t* operand) {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = kTileRows;
    config.colsb[t] = kTileBytesPerRow;
  }
  _tile_loadconfig(&config);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, operand, kTileBytesPerRow);
  _tile_loadd(5, operand, kTileBytesPerRow);
  _tile_loadd(6, operand, kTileBytesPerRow);
  _tile_loadd(7, operand, kTileBytesPerRow);
}

// Stores accumulator 0 (fp32 or int32 lanes, as T), folds its first lane into `sink` and frees the
// tiles.
template <typename T>
__attribute__((target("amx-tile"))) void StoreAndReleaseTiles(float& sink) {
  alignas(64) T accumulators[kTileBytes / sizeof(T)];
  _tile_stored(0, accumulators, kTileBytesPerRow);
  sink += static_cast<float>(accumulators[0]);
  _tile_release();
}

// bf16 operands of 1e-3 (0x3a83): a burst adds 32 products of 1e-6 per instruction to a lane,
// about 8 in all: no overflow, no denormals.
__attribute__((target("amx-tile,amx-bf16"))) double AmxBf16(std::int64_t iterations, float& sink) {
  alignas(64) std::uint16_t operand[kTileBytes / 2];
  std::fill(std::begin(operand), std::end(operand), std::uint16_t{0x3a83});
  LoadTiles(reinterpret_cast<const std::uint8_t*>(operand));
  for (std::int64_t i = 0; i < iterations; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  StoreAndReleaseTiles<float>(sink);
  return static_cast<double>(iterations) * 4 * kAmxBf16FlopPerInstruction;
}

// u8 and s8 operands of 1: a burst adds 64 per instruction to a lane, 1.6e7 in all, far from
// int32's limit.
__attribute__((target("amx-tile,amx-int8"))) double AmxInt8(std::int64_t iterations, float& sink) {
  alignas(64) std::uint8_t operand[kTileBytes];
  std::fill(std::begin(operand), std::end(operand), std::uint8_t{1});
  LoadTiles(operand);
  for (std::int64_t i = 0; i < iterations; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  StoreAndReleaseTiles<std::int32_t>(sink);
  return static_cast<double>(iterations) * 4 * kAmxInt8OpPerInstruction;
}

// In the child process: asks the kernel for the AMX state, then measures each unit of `units`, on
// one thread and on `threads` threads. The permission is the process's, so the workers
// MeasureKernel starts afterwards have it.
AmxRates MeasureAmx(const IsaFlags& units, int threads) {
  AmxRates rates;
  if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, kXfeatureXtileData) != 0) {
    rates.permission_errno = errno;
    return rates;
  }
  if (units.amx_bf16) {
    rates.bf16_gflops_per_core = MeasureKernel(AmxBf16, 1, kAmxIterations) * 1e-9;
    rates.bf16_gflops_all = MeasureKernel(AmxBf16, threads, kAmxIterations) * 1e-9;
  }
  if (units.amx_int8) {
    rates.int8_gops_per_core = MeasureKernel(AmxInt8, 1, kAmxIterations) * 1e-9;
    rates.int8_gops_all = MeasureKernel(AmxInt8, threads, kAmxIterations) * 1e-9;
  }
  return rates;
}

// STREAM triad over arrays four times the size of the largest cache level (at least 64 MiB
// each), so that it measures DRAM, not cache. Bytes counted as STREAM does: 3 x 8 per element,
// no write-allocate traffic.
double StreamTriadGbs(int threads, std::int64_t largest_cache_bytes) {
  const std::int64_t bytes_per_array =
      std::max<std::int64_t>(4 * largest_cache_bytes, std::int64_t{64} << 20);
  const std::int64_t n = bytes_per_array / static_cast<std::int64_t>(sizeof(double));
  std::unique_ptr<double[]> a(new double[n]), b(new double[n]), c(new double[n]);
  // First touch by the threads that will stream each part keeps pages local to their socket.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    a[i] = 0.0;
    b[i] = 1.0;
    c[i] = 2.0;
  }
  // Wall clock here (the threads must stream together); more repetitions than the kernels get, to
  // find one that other processes left alone.
  constexpr int kRepetitions = 10;
  const double scalar = 3.0;
  std::int64_t best_ns = std::numeric_limits<std::int64_t>::max();
  for (int rep = 0; rep < kRepetitions; ++rep) {
    const std::int64_t start_ns = MonotonicNs();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] + scalar * c[i];
    best_ns = std::min(best_ns, MonotonicNs() - start_ns);
  }
  if (a[n / 2] != 7.0)
    Throw(ErrorKind::kInternal, "STREAM triad produced {}, expected 7", a[n / 2]);
  return 3.0 * sizeof(double) * static_cast<double>(n) / static_cast<double>(best_ns);
}

MeasuredPeaks MeasurePeaks(int threads, std::int64_t largest_cache_bytes) {
  MeasuredPeaks peaks;
  peaks.threads = threads;
  // First, while this function has started no thread and no OpenMP pool: the AMX child is forked
  // from a process whose other threads (if any) are the caller's.
  MeasureAmxPeaks(CpuidAmxFlags(), threads, peaks);
  Kernel fma = nullptr;
  if (__builtin_cpu_supports("avx512f")) {
    fma = FmaAvx512;
    peaks.fp32_kernel = "avx512f";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fma = FmaAvx2;
    peaks.fp32_kernel = "avx2";
  } else {
    Throw(ErrorKind::kUnsupported, "peak measurement needs AVX2 and FMA; this CPU has neither");
  }
  Kernel dot = nullptr;
  if (__builtin_cpu_supports("avx512vnni")) {
    dot = DotVnni;
    peaks.int8_kernel = "avx512_vnni";
  } else {
    dot = DotAvx2;
    peaks.int8_kernel = "avx2";
  }
  // About 5 ms per burst at one instruction per cycle and 3 GHz.
  constexpr std::int64_t kIterations = 1'250'000;
  peaks.fp32_gflops_per_core = MeasureKernel(fma, 1, kIterations) * 1e-9;
  peaks.fp32_gflops_all = MeasureKernel(fma, threads, kIterations) * 1e-9;
  peaks.int8_gops_per_core = MeasureKernel(dot, 1, kIterations) * 1e-9;
  peaks.int8_gops_all = MeasureKernel(dot, threads, kIterations) * 1e-9;
  if (__builtin_cpu_supports("avx512bf16")) {
    peaks.bf16_kernel = "avx512_bf16";
    peaks.bf16_gflops_per_core = MeasureKernel(DotBf16, 1, kIterations) * 1e-9;
    peaks.bf16_gflops_all = MeasureKernel(DotBf16, threads, kIterations) * 1e-9;
  }
  peaks.stream_triad_gbs = StreamTriadGbs(threads, largest_cache_bytes);
  // Frees this thread's OpenMP workers. libgomp counts the workers of every thread's pool, and
  // while they outnumber the CPUs it makes all OpenMP threads sleep after ~100 spins instead of
  // ~300,000: a backend running later on another thread would pay a futex wake-up per layer.
  omp_pause_resource_all(omp_pause_soft);
  return peaks;
}

}  // namespace

std::string IsaNames(const IsaFlags& isa) {
  std::string names;
  const auto add = [&names](bool present, const char* name) {
    if (!present) return;
    if (!names.empty()) names += ' ';
    names += name;
  };
  add(isa.avx2, "avx2");
  add(isa.fma, "fma");
  add(isa.avx512f, "avx512f");
  add(isa.avx512_bf16, "avx512_bf16");
  add(isa.avx512_vnni, "avx512_vnni");
  add(isa.amx_tile, "amx_tile");
  add(isa.amx_bf16, "amx_bf16");
  add(isa.amx_int8, "amx_int8");
  return names;
}

CpuInfo ParseCpuInfo(std::string_view text) {
  CpuInfo info;
  std::set<int> physical_ids;
  std::set<std::pair<int, int>> cores;
  int physical_id = 0;      // of the processor entry being read
  bool flags_seen = false;  // the first processor's flags stand for all
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    std::string_view key, value;
    if (!SplitKeyValue(line, key, value)) continue;
    if (key == "processor") {
      ++info.threads;
      physical_id = 0;  // a kernel without topology lines has one socket
    } else if (key == "vendor_id" && info.vendor.empty()) {
      info.vendor = value;
    } else if (key == "model name" && info.model_name.empty()) {
      info.model_name = value;
    } else if (key == "cpu MHz" && info.clock_mhz == 0.0) {
      ParseNumber(value, info.clock_mhz);
    } else if (key == "physical id" && ParseNumber(value, physical_id)) {
      physical_ids.insert(physical_id);
    } else if (key == "core id") {
      int core_id = 0;
      if (ParseNumber(value, core_id)) cores.emplace(physical_id, core_id);
    } else if (key == "flags" && !flags_seen) {
      info.isa.avx2 = HasFlag(value, "avx2");
      info.isa.fma = HasFlag(value, "fma");
      info.isa.avx512f = HasFlag(value, "avx512f");
      info.isa.avx512_bf16 = HasFlag(value, "avx512_bf16");
      info.isa.avx512_vnni = HasFlag(value, "avx512_vnni");
      info.isa.amx_tile = HasFlag(value, "amx_tile");
      info.isa.amx_bf16 = HasFlag(value, "amx_bf16");
      info.isa.amx_int8 = HasFlag(value, "amx_int8");
      flags_seen = true;
    }
  }
  if (info.threads == 0) {
    Throw(ErrorKind::kInvalidArgument, "cpuinfo text has no 'processor' entry");
  }
  info.sockets = std::max<int>(1, static_cast<int>(physical_ids.size()));
  info.cores = cores.empty() ? info.threads : static_cast<int>(cores.size());
  return info;
}

std::int64_t ParseMemTotalBytes(std::string_view text) {
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    std::string_view key, value;
    if (!SplitKeyValue(line, key, value) || key != "MemTotal") continue;
    std::int64_t kib = 0;
    const auto space = value.find(' ');
    if (ParseNumber(value.substr(0, space), kib) &&
        (space == std::string_view::npos || Trim(value.substr(space)) == "kB")) {
      return kib * 1024;
    }
    Throw(ErrorKind::kInvalidArgument, "meminfo: cannot parse MemTotal '{}'", value);
  }
  Throw(ErrorKind::kInvalidArgument, "meminfo text has no MemTotal line");
}

std::int64_t ParseCacheSize(std::string_view text) {
  text = Trim(text);
  std::int64_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
        multiplier = std::int64_t{1} << 10;
        break;
      case 'M':
        multiplier = std::int64_t{1} << 20;
        break;
      case 'G':
        multiplier = std::int64_t{1} << 30;
        break;
      default:
        break;
    }
  }
  const std::string_view digits = multiplier == 1 ? text : text.substr(0, text.size() - 1);
  std::int64_t value = 0;
  if (!ParseNumber(digits, value) || value < 0) {
    Throw(ErrorKind::kInvalidArgument, "cannot parse cache size '{}': expected e.g. 32K or 1M",
          text);
  }
  return value * multiplier;
}

double TheoreticalFp32GflopsPerCore(const IsaFlags& isa, double clock_mhz) {
  const double lanes = isa.avx512f ? 16.0 : 8.0;
  constexpr double kFmaPipes = 2.0;
  constexpr double kFlopPerFma = 2.0;
  return clock_mhz * 1e-3 * lanes * kFmaPipes * kFlopPerFma;
}

std::string HostCpuModel() {
  const std::string cpuinfo = ReadFile("/proc/cpuinfo");
  std::string model = cpuinfo.empty() ? "" : ParseCpuInfo(cpuinfo).model_name;
  return model.empty() ? "unknown CPU" : model;
}

SystemInfo ProbeSystem(bool measure_peaks) {
  SystemInfo info;
  const std::string cpuinfo = ReadFile("/proc/cpuinfo");
  if (cpuinfo.empty()) Throw(ErrorKind::kIo, "cannot read /proc/cpuinfo");
  info.cpu = ParseCpuInfo(cpuinfo);
  info.memory_bytes = ParseMemTotalBytes(ReadFile("/proc/meminfo"));
  info.online_cpus = OnlineCpus();
  info.caches = ReadCaches();

  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) info.hostname = host;
  utsname name;
  if (uname(&name) == 0) info.kernel = fmt::format("{} {}", name.sysname, name.release);

  if (measure_peaks) {
    std::int64_t largest_cache = 0;
    for (const CacheLevel& cache : info.caches) {
      largest_cache = std::max(largest_cache, cache.size_bytes * cache.instances);
    }
    info.peaks = MeasurePeaks(info.online_cpus, largest_cache);
    info.peaks_measured = true;
  }
  return info;
}

IsaFlags CpuidAmxFlags() {
  // Leaf 7 EDX bits (Intel SDM vol. 2A, CPUID); spelt out, as only GCC's <cpuid.h> names them.
  constexpr unsigned kAmxBf16 = 1u << 22;
  constexpr unsigned kAmxTile = 1u << 24;
  constexpr unsigned kAmxInt8 = 1u << 25;
  IsaFlags isa;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return isa;  // no leaf 7
  isa.amx_tile = (edx & kAmxTile) != 0;
  isa.amx_bf16 = (edx & kAmxBf16) != 0;
  isa.amx_int8 = (edx & kAmxInt8) != 0;
  return isa;
}

SharePeak PeakForShare(const MeasuredPeaks& peaks, Precision precision) {
  const SharePeak fp32{peaks.fp32_kernel, peaks.fp32_gflops_all};
  switch (precision) {
    case Precision::kFp32:
      return fp32;
    case Precision::kBf16:
      if (peaks.amx_bf16_gflops_all > 0.0) {
        return {peaks.amx_bf16_kernel, peaks.amx_bf16_gflops_all};
      }
      if (peaks.bf16_gflops_all > 0.0) return {peaks.bf16_kernel, peaks.bf16_gflops_all};
      return fp32;
    case Precision::kInt8:
      if (peaks.amx_int8_gops_all > 0.0) return {peaks.amx_int8_kernel, peaks.amx_int8_gops_all};
      return {peaks.int8_kernel, peaks.int8_gops_all};
    default:
      return {};
  }
}

void MeasureAmxPeaks(const IsaFlags& units, int threads, MeasuredPeaks& peaks) {
  IsaFlags measured = units;  // each unit runs on the tile unit
  measured.amx_bf16 = units.amx_tile && units.amx_bf16;
  measured.amx_int8 = units.amx_tile && units.amx_int8;
  if (!measured.amx_bf16 && !measured.amx_int8) return;
  const AmxOutcome outcome =
      MeasureInChild([&] { return MeasureAmx(measured, threads); }, kAmxTimeout);
  std::string failure = outcome.failure;
  if (failure.empty() && outcome.rates.permission_errno != 0) {
    failure = fmt::format(
        "arch_prctl(ARCH_REQ_XCOMP_PERM) failed: {} (the AMX state needs Linux 5.16 or newer, "
        "with AMX enabled)",
        std::strerror(outcome.rates.permission_errno));
  }
  if (measured.amx_bf16) {
    peaks.amx_bf16_kernel = failure.empty() ? "amx_bf16" : "amx: " + failure;
    peaks.amx_bf16_gflops_per_core = outcome.rates.bf16_gflops_per_core;
    peaks.amx_bf16_gflops_all = outcome.rates.bf16_gflops_all;
  }
  if (measured.amx_int8) {
    peaks.amx_int8_kernel = failure.empty() ? "amx_int8" : "amx: " + failure;
    peaks.amx_int8_gops_per_core = outcome.rates.int8_gops_per_core;
    peaks.amx_int8_gops_all = outcome.rates.int8_gops_all;
  }
}

AmxOutcome MeasureInChild(const std::function<AmxRates()>& measure,
                          std::chrono::milliseconds timeout) {
  AmxOutcome outcome;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    outcome.failure =
        fmt::format("cannot start the measurement: pipe failed ({})", std::strerror(errno));
    return outcome;
  }
  const pid_t child = fork();
  if (child == 0) RunChild(measure, fds[1]);
  close(fds[1]);
  if (child < 0) {
    close(fds[0]);
    outcome.failure =
        fmt::format("cannot start the measurement: fork failed ({})", std::strerror(errno));
    return outcome;
  }
  std::string report;
  const std::string wait_failure = ReadUntilEnd(fds[0], timeout, report);
  close(fds[0]);
  if (!wait_failure.empty()) kill(child, SIGKILL);
  int status = 0;
  pid_t waited = 0;
  while ((waited = waitpid(child, &status, 0)) < 0 && errno == EINTR) {
  }
  if (!wait_failure.empty()) {
    outcome.failure = wait_failure;
  } else if (waited == child && WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const char* name = sigabbrev_np(signal);  // "ILL"; null for a number without a name
    outcome.failure = fmt::format("the measurement died with SIG{} ({})",
                                  name != nullptr ? std::string(name) : std::to_string(signal),
                                  strsignal(signal));
  } else if (waited == child && WIFEXITED(status) && WEXITSTATUS(status) == kChildThrew) {
    outcome.failure = "the measurement threw an exception";
  } else if (waited == child && WIFEXITED(status) && WEXITSTATUS(status) == kChildCannotReport) {
    outcome.failure = "the measurement could not write its report";
  } else if (waited == child && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    outcome.failure = fmt::format("the measurement exited with status {}", WEXITSTATUS(status));
  } else if (report.size() != sizeof(AmxRates)) {
    outcome.failure = fmt::format("the measurement ended with a report of {} bytes, not {}",
                                  report.size(), sizeof(AmxRates));
  } else {
    std::memcpy(&outcome.rates, report.data(), sizeof(AmxRates));
  }
  return outcome;
}

}  // namespace sonic
