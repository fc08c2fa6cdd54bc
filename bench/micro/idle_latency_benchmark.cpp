// The latency of a request that follows an idle gap (issue 22 §7): one Executable runs one
// sample, sleeps `gap`, runs again, for each gap in a list. Reports the latency percentiles per
// gap and the process CPU time per second of wall time (what a spinning thread pool costs while
// the process waits). Not Google Benchmark: the quantity is one cold call after a sleep, not a
// rate, and the sleeps are the point.
//
//   idle_latency_benchmark [--backend=onednn] [--model=jet_cnn] [--threads=N]
//                          [--backend-options=OPTIONS] [--gaps-ms=0,1,5,20,50,200] [--requests=200]
//
// --backend-options is CompileOptions::backend_options, e.g. `idle=passive` or `idle=spin:20ms`
// for onednn.
// One line per gap: gap_ms p50_us p90_us p99_us cpu_ms_per_s.
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "backends/registry.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/random.h"
#include "models/zoo.h"

namespace sonic {
namespace {

struct Flags {
  std::string backend = "onednn";
  std::string model = "jet_cnn";
  std::string backend_options;
  int threads = 0;
  int requests = 200;
  std::vector<double> gaps_ms = {0, 1, 5, 20, 50, 200};
};

std::vector<double> ParseGaps(std::string_view text) {
  std::vector<double> values;
  for (const std::string& item : SplitList(text, "--gaps-ms")) {
    values.push_back(ParseDouble(item, "--gaps-ms"));
  }
  return values;
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const std::size_t eq = arg.find('=');
    const std::string_view key = arg.substr(0, eq);
    const std::string value(eq == std::string_view::npos ? "" : arg.substr(eq + 1));
    if (key == "--backend") {
      flags.backend = value;
    } else if (key == "--model") {
      flags.model = value;
    } else if (key == "--backend-options") {
      flags.backend_options = value;
    } else if (key == "--threads") {
      flags.threads = static_cast<int>(ParseIntInRange(value, "--threads", 0, 4096));
    } else if (key == "--requests") {
      flags.requests = static_cast<int>(ParseIntInRange(value, "--requests", 1, 1 << 24));
    } else if (key == "--gaps-ms") {
      flags.gaps_ms = ParseGaps(value);
    } else {
      Throw(ErrorKind::kInvalidArgument,
            "unknown flag '{}': expected --backend, --model, --backend-options, --threads, "
            "--requests or "
            "--gaps-ms (each as --flag=VALUE)",
            arg);
    }
  }
  if (flags.requests < 1) Throw(ErrorKind::kInvalidArgument, "--requests must be at least 1");
  return flags;
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Percentile(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  const auto index =
      static_cast<std::size_t>(std::lround(q * static_cast<double>(sorted.size() - 1)));
  return sorted[index];
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  const auto backend = MakeUsableBackend(flags.backend);
  const Graph graph = BuildModel(flags.model);
  CompileOptions options;
  options.threads = flags.threads;
  options.backend_options = flags.backend_options;
  const auto executable = backend->Compile(graph, options);
  Random random(7);
  std::vector<float> input(NumElements(graph.input_shape()));
  for (float& v : input) v = static_cast<float>(random.Uniform());
  std::vector<float> output(NumElements(graph.output_shape()));
  for (int i = 0; i < 20; ++i) executable->Run(input, 1, output);  // warm-up

  using Clock = std::chrono::steady_clock;
  fmt::print("# {} {} threads={} backend_options='{}' requests={}\n", flags.backend, flags.model,
             flags.threads, flags.backend_options, flags.requests);
  fmt::print("{:>8} {:>10} {:>10} {:>10} {:>12}\n", "gap_ms", "p50_us", "p90_us", "p99_us",
             "cpu_ms_per_s");
  for (const double gap_ms : flags.gaps_ms) {
    const auto gap = std::chrono::duration<double, std::milli>(gap_ms);
    std::vector<double> latencies_us;
    latencies_us.reserve(flags.requests);
    const double cpu0 = ProcessCpuSeconds();
    const auto wall0 = Clock::now();
    for (int i = 0; i < flags.requests; ++i) {
      if (gap_ms > 0) std::this_thread::sleep_for(gap);
      const auto t0 = Clock::now();
      executable->Run(input, 1, output);
      latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
    const double cpu_ms_per_s = (ProcessCpuSeconds() - cpu0) * 1e3 / wall;
    fmt::print("{:>8g} {:>10.0f} {:>10.0f} {:>10.0f} {:>12.0f}\n", gap_ms,
               Percentile(latencies_us, 0.5), Percentile(latencies_us, 0.9),
               Percentile(latencies_us, 0.99), cpu_ms_per_s);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace sonic

int main(int argc, char** argv) {
  try {
    return sonic::Main(argc, argv);
  } catch (const std::exception& error) {
    fmt::print(stderr, "idle_latency_benchmark: {}\n", error.what());
    return 2;
  }
}
