// Micro-benchmarks of Executable::Run for every compiled backend, registered at run time:
// backend x model x precision x batch. Reports images/s (items_per_second) and GFLOP/s
// (2 x MACs per sample x batch per second of wall time). Compile and warm-up are untimed.
//
//   backend_benchmark [--threads=N] [--device=SELECTOR] [--backend-options=K=V,...]
//                     [--benchmark_filter=REGEX] ...
//
// --threads: CPU threads per Executable (CompileOptions::threads); default 0, all cores.
// --device, --backend-options: CompileOptions::device (e.g. 0:0 for opencl) and
// ::backend_options (e.g. conv=direct for onednn); default empty (each backend's default device
// and algorithms).
// Names read backend/model/precision/batch:N, e.g. onednn/resnet50/int8/batch:16.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/registry.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/random.h"
#include "models/zoo.h"

namespace sonic {
namespace {

struct Case {
  std::string backend;
  std::string model;
  Precision precision;
  int batch;
};

// A compiled case with its seeded input. Repetitions of one benchmark run back to back, so the
// last one is kept: ResNet-50 at int8 takes seconds to calibrate and compile.
struct Prepared {
  std::string key;
  std::unique_ptr<Executable> executable;
  std::vector<float> input, output;
  std::int64_t macs_per_sample = 0;
};

// Flags this program adds to Google Benchmark's.
struct Flags {
  int threads = 0;
  std::string device;
  std::string backend_options;
};

Prepared& Prepare(const Case& c, const Flags& flags) {
  static Prepared prepared;
  const std::string key =
      fmt::format("{}/{}/{}/{}/{}/{}/{}", c.backend, c.model, PrecisionName(c.precision), c.batch,
                  flags.threads, flags.device, flags.backend_options);
  if (prepared.key == key) return prepared;
  prepared = {};
  auto backend = MakeUsableBackend(c.backend, c.precision, flags.device, flags.backend_options);
  const Graph graph = BuildModel(c.model);
  CompileOptions options;
  options.max_batch = c.batch;
  options.precision = c.precision;
  options.threads = flags.threads;
  options.device = flags.device;
  options.backend_options = flags.backend_options;
  prepared.executable = backend->Compile(graph, options);
  Random random(7);
  prepared.input.resize(c.batch * NumElements(graph.input_shape()));
  for (float& v : prepared.input) v = static_cast<float>(random.Uniform());
  prepared.output.resize(c.batch * NumElements(graph.output_shape()));
  prepared.macs_per_sample = graph.MacsPerSample();
  prepared.key = key;
  return prepared;
}

void RunCase(benchmark::State& state, const Case& c, const Flags& flags) {
  try {
    Prepared& p = Prepare(c, flags);
    p.executable->Run(p.input, c.batch, p.output);  // warm-up: caches, first-touch pages
    for (auto _ : state) {
      p.executable->Run(p.input, c.batch, p.output);
      benchmark::DoNotOptimize(p.output.data());
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * c.batch);
    const double flop_per_run = 2.0 * static_cast<double>(p.macs_per_sample) * c.batch;
    state.counters["GFLOP/s"] = benchmark::Counter(
        flop_per_run * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

// The default grid: reference only on the small model (it is the slow oracle); every other
// backend on jet_cnn and ResNet-50 at batch 1 and 16 in each precision it supports here.
std::vector<Case> DefaultCases() {
  std::vector<Case> cases;
  for (const std::string& name : CompiledBackendNames()) {
    const auto backend = MakeBackend(name);
    const std::vector<std::string> models = name == "reference"
                                                ? std::vector<std::string>{"jet_cnn"}
                                                : std::vector<std::string>{"jet_cnn", "resnet50"};
    std::vector<Precision> precisions = backend->precisions();
    if (name == "null") precisions = {Precision::kFp32};  // it does no arithmetic
    for (const std::string& model : models) {
      for (Precision precision : precisions) {
        for (int batch : {1, 16}) cases.push_back({name, model, precision, batch});
      }
    }
  }
  return cases;
}

// Removes --threads=N, --device=S and --backend-options=O from argv (Google Benchmark rejects
// unknown flags).
Flags TakeFlags(int& argc, char** argv) {
  Flags flags;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--threads=")) {
      flags.threads = static_cast<int>(
          ParseIntInRange(arg.substr(std::strlen("--threads=")), "--threads", 0, 4096));
    } else if (arg.starts_with("--device=")) {
      flags.device = arg.substr(std::strlen("--device="));
    } else if (arg.starts_with("--backend-options=")) {
      flags.backend_options = arg.substr(std::strlen("--backend-options="));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return flags;
}

}  // namespace
}  // namespace sonic

int main(int argc, char** argv) {
  const sonic::Flags flags = sonic::TakeFlags(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const sonic::Case& c : sonic::DefaultCases()) {
    const std::string name = fmt::format("{}/{}/{}/batch:{}", c.backend, c.model,
                                         sonic::PrecisionName(c.precision), c.batch);
    benchmark::RegisterBenchmark(
        name.c_str(), [c, flags](benchmark::State& state) { sonic::RunCase(state, c, flags); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
