#include "bench/loadgen/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <thread>

#include "backends/registry.h"
#include "bench/loadgen/local_target.h"
#include "bench/loadgen/metrics_recorder.h"
#include "bench/loadgen/physics_measurement.h"
#include "bench/loadgen/remote_target.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/sysinfo.h"
#include "datasets/sample_source.h"
#include "models/onnx_import.h"
#include "models/zoo.h"
#include "results/results_file.h"
#include "service/link.h"
#include "service/server.h"

namespace sonic {

CellResult FailedCell(ErrorKind kind, std::string_view message) {
  CellResult result;
  result.status = CellStatus::kFailed;
  result.converged = false;
  result.error_message = fmt::format("{}: {}", ErrorKindName(kind), message);
  return result;
}

namespace {

// The embedded server's batcher for one cell: off runs every request alone at the cell's batch;
// on lets requests of several clients combine up to batch x concurrency (at most 64 samples)
// unless the config names the maximum.
service::BatcherOptions EmbeddedBatching(const SweepCell& cell) {
  const CellSettings& s = cell.settings;
  service::BatcherOptions batching;
  batching.dynamic = s.batched();
  const std::int64_t combined =
      std::max<std::int64_t>(s.batch, std::min<std::int64_t>(64, s.batch * s.concurrency));
  batching.max_batch = static_cast<int>(
      cell.remote.max_batch > 0 ? cell.remote.max_batch : (batching.dynamic ? combined : s.batch));
  batching.max_queue_delay_us = batching.dynamic ? cell.remote.max_queue_delay_us : 0;
  return batching;
}

Graph BuildCellModel(const CellSettings& s) {
  return s.model.ends_with(".onnx") ? ImportOnnx(s.model) : BuildModel(s.model);
}

// The calibration samples of an int8 cell with a calibration file; none otherwise (the backend
// then calibrates on seeded random inputs, and the sweep has warned about it).
std::vector<float> CalibrationFor(const SweepCell& cell, const Graph& graph) {
  if (ParsePrecision(cell.settings.precision) != Precision::kInt8 || cell.calibration == "random") {
    return {};
  }
  return LoadSamples(cell.calibration, graph.input_shape(), kMaxCalibrationSamples);
}

// How a local cell runs its backend: its batch, precision, threads, device, options and (int8)
// calibration. Remote cells take no calibration here: their server calibrates.
LocalTargetOptions LocalOptionsFor(const SweepCell& cell, const Graph& graph) {
  const CellSettings& s = cell.settings;
  LocalTargetOptions options;
  options.batch = static_cast<int>(s.batch);
  options.precision = ParsePrecision(s.precision);
  options.threads = static_cast<int>(s.threads);
  options.device = cell.device;
  options.backend_options = cell.backend_options;
  if (!s.remote()) options.calibration = CalibrationFor(cell, graph);
  return options;
}

std::unique_ptr<service::Server> StartServerFor(const SweepCell& cell, Graph graph) {
  const CellSettings& s = cell.settings;
  service::ServedModelOptions model;
  model.calibration = CalibrationFor(cell, graph);
  model.name = graph.name;
  model.graph = std::move(graph);
  model.backend = s.backend;
  model.instances = cell.remote.instances;
  model.batching = EmbeddedBatching(cell);
  model.precision = ParsePrecision(s.precision);
  model.threads = static_cast<int>(s.threads);
  model.device = cell.device;
  model.backend_options = cell.backend_options;
  service::ServerOptions server_options;
  server_options.models.push_back(std::move(model));
  if (cell.remote.metrics_url == "auto") server_options.metrics_port = 0;  // any free port
  return service::Server::Start(std::move(server_options));
}

// How a remote cell's clients reach its servers (all but the embedded server's address).
RemoteTargetOptions RemoteOptionsFor(const SweepCell& cell, const Graph& graph) {
  const CellSettings& s = cell.settings;
  RemoteTargetOptions options;
  options.batch = static_cast<int>(s.batch);
  options.client.link = service::ParseLink(s.link);
  options.client.channels = cell.remote.channels;
  options.policy = cell.remote.policy;
  options.servers = cell.remote.servers;
  // A server of our own names a model after its graph; others by their own config (an ONNX
  // model by its file's stem).
  options.model = graph.name;
  if (!options.servers.empty() && s.model.ends_with(".onnx")) {
    options.model = std::filesystem::path(s.model).stem().string();
  }
  return options;
}

// Each model instance's busy time between two snapshots over the wall time between them.
std::vector<double> DutyCycles(const service::ModelStatsSnapshot& before,
                               const service::ModelStatsSnapshot& after, std::int64_t wall_ns) {
  const service::ModelStatsSnapshot delta = service::Delta(before, after);
  std::vector<double> duty;
  for (const service::DurationStat& busy : delta.instance_busy) {
    duty.push_back(wall_ns > 0 ? static_cast<double>(busy.ns) / static_cast<double>(wall_ns) : 0);
  }
  return duty;
}

// The metrics endpoint a remote cell scrapes: the embedded server's own with metrics_url = auto,
// the URL given otherwise; none with metrics_url = none, or auto against an external server.
std::optional<service::MetricsUrl> MetricsUrlFor(const SweepCell& cell,
                                                 const service::Server* embedded) {
  const std::string& url = cell.remote.metrics_url;
  if (url == "none") return std::nullopt;
  if (url != "auto") return service::ParseMetricsUrl(url);
  if (embedded == nullptr || embedded->metrics() == nullptr) return std::nullopt;
  return service::ParseMetricsUrl(embedded->metrics()->url());
}

// A remote cell: the service as the system under test, through the emulated link. Without a
// server address the cell takes the embedded server from `pool` (or, without one, starts its own
// on a free loopback port and stops it afterwards). Any failed request fails the cell: a
// measurement with errors in it does not describe the service.
std::optional<CellResult> RunRemoteCell(const SweepCell& cell, Graph graph,
                                        std::shared_ptr<const InputSource> inputs,
                                        const std::atomic<bool>* cancel,
                                        const std::function<void(const LoadProgress&)>& progress,
                                        EmbeddedServerPool* pool) {
  std::unique_ptr<service::Server> own_server;
  service::Server* server = nullptr;
  RemoteTargetOptions options = RemoteOptionsFor(cell, graph);
  options.cancel = cancel;
  const Shape input_shape = graph.input_shape();
  if (cell.remote.servers.empty()) {
    if (pool != nullptr) {
      server = &pool->For(cell, graph);
    } else {
      own_server = StartServerFor(cell, std::move(graph));
      server = own_server.get();
    }
    options.client.address = server->address();
  }
  RemoteTarget target(options, input_shape, std::move(inputs));
  std::optional<CellResult> result;
  const std::vector<service::ModelStatsSnapshot> before =
      server ? server->Statistics() : std::vector<service::ModelStatsSnapshot>{};
  const std::int64_t started_ns = MonotonicNs();
  std::unique_ptr<CellMetricsRecorder> metrics;
  if (const std::optional<service::MetricsUrl> url = MetricsUrlFor(cell, server)) {
    metrics = std::make_unique<CellMetricsRecorder>(
        *url, std::chrono::milliseconds(cell.remote.metrics_interval_ms));
  }
  try {
    result = RunLoad(target, cell.load, cancel, progress);
  } catch (const Error& error) {
    // "Every request failed" says what gRPC said; the cell's record should name the server too.
    Throw(error.kind(), "{} (server {})", error.what(),
          server ? options.client.address : cell.remote.server);
  }
  if (result && metrics) result->server_metrics = metrics->Finish();
  if (result && result->status != CellStatus::kFailed) {
    try {
      result->server = target.ServerStatisticsDelta();
    } catch (const Error& error) {
      // A server without Triton's statistics extension still gets measured.
      result->convergence_reason += fmt::format("; no server statistics: {}", error.what());
    }
    result->servers = target.ServerShares();
    if (server) {
      result->instance_duty_cycles =
          DutyCycles(before.at(0), server->Statistics().at(0), MonotonicNs() - started_ns);
    }
    std::int64_t failed = 0;
    for (const auto& [kind, count] : result->errors) failed += count;
    if (failed > 0) {
      result->status = CellStatus::kFailed;
      std::string kinds;
      for (const auto& [kind, count] : result->errors) {
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", count, kind);
      }
      result->error_message =
          fmt::format("{} request(s) failed ({}) against {}; the first: {}", failed, kinds,
                      server ? options.client.address : cell.remote.server, target.first_error());
    }
  }
  if (own_server) own_server->Shutdown(std::chrono::seconds(5));
  if (pool != nullptr && server != nullptr && (!result || result->status == CellStatus::kFailed)) {
    pool->Reset();
  }
  return result;
}

// The labelled samples of the cells' physics measurements and the reference's outputs on them,
// computed once for consecutive cells of the same model, file and sample count.
class LabelledSampleCache {
 public:
  const LabelledSamples& For(const Graph& graph, const CellSettings& s, const AccuracySpec& spec) {
    const std::string key = fmt::format("{}|{}|{}", s.model, s.inputs, spec.max_samples);
    if (key != key_) {
      key_.clear();
      samples_ = LoadLabelledSamples(graph, s.inputs, spec.max_samples, /*threads=*/0);
      key_ = key;
    }
    return samples_;
  }

 private:
  std::string key_;
  LabelledSamples samples_;
};

// The physics measurement of a cell whose load was measured: its labelled inputs through its own
// target (its backend, precision and calibration; or its server, the pool's embedded one when it
// has no address), at its batch. A failure is recorded in the measurement, not the cell.
CellAccuracy MeasureCellAccuracy(const SweepCell& cell, EmbeddedServerPool& servers,
                                 LabelledSampleCache& cache) {
  const CellSettings& s = cell.settings;
  CellAccuracy accuracy;
  accuracy.dataset = s.inputs;
  accuracy.signal_class = cell.accuracy->signal_class;
  const auto measure = [&] {
    try {
      const Graph graph = BuildCellModel(s);
      const LabelledSamples& samples = cache.For(graph, s, *cell.accuracy);
      std::vector<float> outputs;
      if (s.remote()) {
        const std::string address = cell.remote.servers.empty() ? servers.For(cell, graph).address()
                                                                : cell.remote.servers.front();
        outputs = RunOnServer(address, RemoteOptionsFor(cell, graph).model, graph.input_shape(),
                              samples.set.images, samples.set.size(), static_cast<int>(s.batch));
      } else {
        const std::unique_ptr<Backend> backend = MakeUsableBackend(
            s.backend, ParsePrecision(s.precision), cell.device, cell.backend_options);
        const LocalTargetOptions local = LocalOptionsFor(cell, graph);
        outputs = RunOnBackend(*backend, graph, CompileOptionsOf(local), samples.set.images,
                               samples.set.size());
      }
      accuracy.score = ScoreTagger(outputs, NumElements(graph.output_shape()),
                                   accuracy.signal_class, samples.set.labels, samples.reference);
    } catch (const Error& error) {
      accuracy.error = fmt::format("{}: {}", ErrorKindName(error.kind()), error.what());
    } catch (const std::bad_alloc&) {
      accuracy.error = "resource_exhausted: out of memory";
    }
  };
  // On a thread of its own, which takes the thread pools the backends make for it (OpenMP's)
  // when it ends: a pool left on the sweep's thread would outnumber the CPUs beside the next
  // cells' workers, and libgomp then puts every worker to sleep after a few spins, halving the
  // next cells' throughput (measured: 42k -> 19k inferences/s on the trained tagger at int8).
  std::thread(measure).join();
  return accuracy;
}

}  // namespace

EmbeddedServerPool::EmbeddedServerPool() = default;

EmbeddedServerPool::~EmbeddedServerPool() { Reset(); }

service::Server& EmbeddedServerPool::For(const SweepCell& cell, const Graph& graph) {
  const CellSettings& s = cell.settings;
  const service::BatcherOptions batching = EmbeddedBatching(cell);
  const std::string key = fmt::format(
      "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", s.backend, s.model, s.precision, s.threads,
      cell.remote.instances, batching.dynamic, batching.max_batch, batching.max_queue_delay_us,
      cell.device, cell.backend_options, cell.remote.metrics_url, cell.calibration);
  if (server_ == nullptr || key != key_) {
    Reset();
    server_ = StartServerFor(cell, graph);
    key_ = key;
  }
  return *server_;
}

void EmbeddedServerPool::Reset() {
  if (server_) server_->Shutdown(std::chrono::seconds(5));
  server_.reset();
  key_.clear();
}

std::optional<CellResult> RunSweepCell(const SweepCell& cell, const std::atomic<bool>* cancel,
                                       const std::function<void(const LoadProgress&)>& on_progress,
                                       EmbeddedServerPool* servers) {
  const CellSettings& s = cell.settings;
  try {
    // The embedded server's backend lives in this process, so its settings are ours to record;
    // an external server's precision is its own affair.
    const bool backend_is_ours = !s.remote() || cell.remote.servers.empty();
    std::shared_ptr<const Backend> backend = MakeUsableBackend(
        s.backend, backend_is_ours ? std::optional(ParsePrecision(s.precision)) : std::nullopt,
        cell.device, cell.backend_options);
    Graph graph = BuildCellModel(s);
    LocalTargetOptions options = LocalOptionsFor(cell, graph);
    std::shared_ptr<const InputSource> inputs =
        OpenInputSource(s.inputs, graph.input_shape(), cell.load.arrival_seed);
    const std::string backend_settings = backend_is_ours ? backend->settings() : "";
    std::optional<CellResult> result;
    if (s.remote()) {
      result =
          RunRemoteCell(cell, std::move(graph), std::move(inputs), cancel, on_progress, servers);
    } else {
      LocalTarget target(std::move(backend), std::move(graph), options, std::move(inputs));
      result = RunLoad(target, cell.load, cancel, on_progress);
    }
    if (result) result->backend_settings = backend_settings;
    return result;
  } catch (const Error& error) {
    if (servers != nullptr) servers->Reset();  // the failure may be the server's
    // An interrupt during setup (waiting for a server, compiling) abandons the cell like one
    // during the load: nothing is stored for it, and --resume runs it.
    if (cancel != nullptr && cancel->load()) return std::nullopt;
    return FailedCell(error.kind(), error.what());
  } catch (const std::bad_alloc&) {
    if (servers != nullptr) servers->Reset();
    return FailedCell(ErrorKind::kResourceExhausted, "out of memory");
  } catch (const std::exception& error) {
    if (servers != nullptr) servers->Reset();
    return FailedCell(ErrorKind::kInternal, error.what());
  }
}

std::unique_ptr<service::Server> StartEmbeddedServer(const SweepCell& cell) {
  MakeUsableBackend(cell.settings.backend, ParsePrecision(cell.settings.precision), cell.device,
                    cell.backend_options);
  return StartServerFor(cell, BuildCellModel(cell.settings));
}

CellServerStats::CellServerStats(const SweepCell& cell) {
  if (cell.remote.servers.empty()) {
    Throw(ErrorKind::kInvalidArgument, "server statistics of a cell without server addresses");
  }
  const Graph graph = BuildCellModel(cell.settings);
  target_ = std::make_unique<RemoteTarget>(RemoteOptionsFor(cell, graph), graph.input_shape(),
                                           std::make_shared<RandomInputSource>(1));
  target_->Setup(1);
}

CellServerStats::~CellServerStats() = default;

std::optional<ServerStats> CellServerStats::Delta() {
  try {
    return target_->ServerStatisticsDelta();
  } catch (const Error&) {
    return std::nullopt;  // a server without Triton's statistics extension
  }
}

std::string StoredConfigText(const std::string& path) {
  ValidateResultsFile(path);  // --resume measures nothing into a damaged file
  ResultsReader reader(path);
  const std::vector<std::string> runs = reader.ListRuns();
  if (runs.empty()) Throw(ErrorKind::kInvalidArgument, "{} holds no sweep run to resume", path);
  return reader.ReadRunInfo(runs.back()).config_text;
}

namespace {

// The finished cells of `run`, and the identities of the searches it finished. The cells
// themselves are read only when a key says the run has a search.
std::map<std::string, CellStatus> FinishedCellsAndSearches(const ResultsReader& reader,
                                                           const std::string& run) {
  std::map<std::string, CellStatus> finished = reader.FinishedCells(run);
  const bool searched = std::any_of(finished.begin(), finished.end(), [](const auto& cell) {
    return cell.first.find(";search_over=") != std::string::npos;
  });
  if (!searched) return finished;
  for (const CellRecord& cell : reader.ReadCells(run, /*with_raw_records=*/false)) {
    if (cell.settings.search_role == SearchRole::kConfirmation) {
      finished[cell.settings.SearchKey()] = cell.result.status;
    }
  }
  return finished;
}

}  // namespace

std::map<std::string, CellStatus> StoredFinishedCells(const std::string& path) {
  ResultsReader reader(path);
  const std::vector<std::string> runs = reader.ListRuns();
  if (runs.empty()) Throw(ErrorKind::kInvalidArgument, "{} holds no sweep run to resume", path);
  return FinishedCellsAndSearches(reader, runs.back());
}

bool AlreadyFinished(const SweepCell& cell, const std::map<std::string, CellStatus>& finished) {
  return finished.contains(cell.search ? cell.settings.SearchKey() : cell.settings.Key());
}

SweepCell SearchCell(const SweepCell& search, double value, int index, SearchRole role) {
  SweepCell cell = search;
  if (search.search->over == SearchOver::kRate) {
    cell.settings.rate_hz = value;
    cell.load.rate_hz = value;
  } else {
    cell.settings.concurrency = std::llround(value);
    cell.load.concurrency = static_cast<int>(cell.settings.concurrency);
    if (search.search->auto_thread_cpus > 0) {
      cell.settings.threads =
          std::max<std::int64_t>(1, search.search->auto_thread_cpus / cell.settings.concurrency);
    }
  }
  cell.settings.search_role = role;
  cell.settings.search_probe = index;
  return cell;
}

bool RunSearch(const SweepCell& search,
               const std::function<std::optional<CellResult>(const SweepCell&)>& run,
               const std::function<void(const SweepCell&, const CellResult&)>& done) {
  const SearchPlan& plan = *search.search;
  std::vector<SearchProbe> probes;
  const auto measure = [&](double value, SearchRole role) -> std::optional<bool> {
    const SweepCell cell = SearchCell(search, value, static_cast<int>(probes.size()), role);
    std::optional<CellResult> result = run(cell);
    if (!result) return std::nullopt;
    JudgeLatencyBound(cell.settings.latency_bound_ms, cell.settings.latency_percentile,
                      cell.load.min_requests, *result);
    done(cell, *result);
    return result->bound_met.value_or(false);
  };
  while (const std::optional<double> value = NextSearchValue(plan, probes)) {
    const std::optional<bool> met = measure(*value, SearchRole::kProbe);
    if (!met) return false;
    probes.push_back({*value, *met});
  }
  const std::optional<double> answer = SearchAnswer(probes);
  return !answer || measure(*answer, SearchRole::kConfirmation).has_value();
}

std::unique_ptr<ResultsWriter> OpenSweepResults(const SweepConfig& config,
                                                const SweepOptions& options,
                                                std::map<std::string, CellStatus>& finished) {
  if (options.out_path.empty()) return nullptr;
  if (options.resume) {
    std::string run_id;
    {
      ResultsReader reader(options.out_path);
      const std::vector<std::string> runs = reader.ListRuns();
      if (runs.empty()) {
        Throw(ErrorKind::kInvalidArgument, "{} holds no sweep run to resume", options.out_path);
      }
      run_id = runs.back();
      finished = FinishedCellsAndSearches(reader, run_id);
    }
    return ResultsWriter::Resume(options.out_path, run_id);
  }
  RunInfo info = CurrentRunInfo();
  info.command_line = options.command_line;
  info.config_text = config.canonical_text;
  info.seeds["sweep"] = config.seed;
  info.seeds["arrivals"] = config.seed;  // + repeat index
  info.seeds["inputs"] = config.seed;    // + repeat index
  info.seeds["weights"] = ModelOptions{}.seed;
  const SystemInfo system = ProbeSystem(options.measure_peak);
  info.host = system.hostname;
  info.cpu_model = system.cpu.model_name;
  info.system.cpu_cores = system.cpu.cores;
  info.system.online_cpus = system.online_cpus;
  info.system.isa = IsaNames(system.cpu.isa);
  info.system.memory_bytes = system.memory_bytes;
  if (system.peaks_measured) {
    info.cpu_peak_gflops = system.peaks.fp32_gflops_all;
    info.system.int8_peak_gops = system.peaks.int8_gops_all;
    info.system.bf16_peak_gflops = system.peaks.bf16_gflops_all;
    info.system.amx_bf16_peak_gflops = system.peaks.amx_bf16_gflops_all;
    info.system.amx_int8_peak_gops = system.peaks.amx_int8_gops_all;
    info.system.stream_triad_gbs = system.peaks.stream_triad_gbs;
  }
  for (const std::string& name : config.backends) {
    const std::unique_ptr<Backend> backend = MakeBackend(name);
    info.library_versions[name] = backend->library_version();
    info.device_names[name] = backend->device_name();
  }
  info.library_versions.insert(options.extra_library_versions.begin(),
                               options.extra_library_versions.end());
  return ResultsWriter::Open(options.out_path, info, options.append);
}

SweepSummary RunSweep(const SweepConfig& config, const SweepOptions& options,
                      SweepObserver& observer, const std::atomic<bool>* cancel) {
  const std::vector<SweepCell> cells = ExpandCells(config);
  SweepSummary summary;
  summary.total = static_cast<int>(cells.size());

  std::map<std::string, CellStatus> finished;
  std::unique_ptr<ResultsWriter> writer = OpenSweepResults(config, options, finished);
  if (writer) summary.run_id = writer->run_id();
  EmbeddedServerPool servers;
  LabelledSampleCache labelled;

  for (int i = 0; i < summary.total && !summary.interrupted; ++i) {
    if (AlreadyFinished(cells[i], finished)) {
      ++summary.skipped;
      continue;
    }
    const auto run = [&](const SweepCell& cell) {
      observer.OnCellStart(i, summary.total, cell.settings);
      return RunSweepCell(
          cell, cancel,
          [&](const LoadProgress& progress) {
            observer.OnCellProgress(i, summary.total, cell.settings, progress);
          },
          &servers);
    };
    const auto done = [&](const SweepCell& cell, CellResult result) {
      // A search's probes only find the bound; its confirmation is the cell that is judged.
      if (cell.accuracy && result.status != CellStatus::kFailed &&
          cell.settings.search_role != SearchRole::kProbe) {
        result.accuracy = MeasureCellAccuracy(cell, servers, labelled);
      }
      if (writer) writer->AppendCell(cell.settings, result);
      ++summary.ran;
      summary.failed += result.status == CellStatus::kFailed;
      summary.not_converged += result.status == CellStatus::kNotConverged;
      observer.OnCellDone(i, summary.total, cell.settings, result);
    };
    if (cells[i].search) {
      summary.interrupted = !RunSearch(cells[i], run, done);
    } else if (const std::optional<CellResult> result = run(cells[i])) {
      done(cells[i], *result);
    } else {
      summary.interrupted = true;  // the writer closes without marking the run complete
    }
    if (cancel != nullptr && cancel->load()) summary.interrupted = true;
  }
  if (writer && !summary.interrupted) writer->Close();
  return summary;
}

}  // namespace sonic
