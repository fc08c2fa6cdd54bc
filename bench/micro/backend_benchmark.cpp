// Micro-benchmarks of Executable::Run for every compiled backend, registered at run time:
// backend x model x precision x batch. Reports images/s (items_per_second) and GFLOP/s
// (2 x MACs per sample x batch per second of wall time). Compile and warm-up are untimed.
//
//   backend_benchmark [--threads=N] [--benchmark_filter=REGEX] [--benchmark_repetitions=5] ...
//
// --threads: CPU threads per Executable (CompileOptions::threads); default 0, all cores.
// Names read backend/model/precision/batch:N, e.g. onednn/resnet50/int8/batch:16.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "core/error.h"
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

Prepared& Prepare(const Case& c, int threads) {
  static Prepared prepared;
  const std::string key = fmt::format("{}/{}/{}/{}/{}", c.backend, c.model,
                                      PrecisionName(c.precision), c.batch, threads);
  if (prepared.key == key) return prepared;
  prepared = {};
  auto backend = MakeBackend(c.backend);
  if (const std::string reason = backend->unavailable_reason(); !reason.empty()) {
    Throw(ErrorKind::kUnavailable, "{}", reason);
  }
  const Graph graph = BuildModel(c.model);
  CompileOptions options;
  options.max_batch = c.batch;
  options.precision = c.precision;
  options.threads = threads;
  prepared.executable = backend->Compile(graph, options);
  Random random(7);
  prepared.input.resize(c.batch * NumElements(graph.input_shape()));
  for (float& v : prepared.input) v = static_cast<float>(random.Uniform());
  prepared.output.resize(c.batch * NumElements(graph.output_shape()));
  prepared.macs_per_sample = graph.MacsPerSample();
  prepared.key = key;
  return prepared;
}

void RunCase(benchmark::State& state, const Case& c, int threads) {
  try {
    Prepared& p = Prepare(c, threads);
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

// Removes --threads=N from argv (Google Benchmark rejects unknown flags) and returns N.
int TakeThreadsFlag(int& argc, char** argv) {
  int threads = 0;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    constexpr const char* kFlag = "--threads=";
    if (std::strncmp(argv[i], kFlag, std::strlen(kFlag)) == 0) {
      threads = std::atoi(argv[i] + std::strlen(kFlag));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return threads;
}

}  // namespace
}  // namespace sonic

int main(int argc, char** argv) {
  const int threads = sonic::TakeThreadsFlag(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const sonic::Case& c : sonic::DefaultCases()) {
    const std::string name = fmt::format("{}/{}/{}/batch:{}", c.backend, c.model,
                                         sonic::PrecisionName(c.precision), c.batch);
    benchmark::RegisterBenchmark(
        name.c_str(), [c, threads](benchmark::State& state) { sonic::RunCase(state, c, threads); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
