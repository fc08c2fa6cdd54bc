#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/accuracy.h"
#include "backends/registry.h"
#include "bench/cli/commands.h"
#include "bench/cli/json.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/tensor.h"
#include "datasets/sample_source.h"
#include "models/onnx_import.h"
#include "models/zoo.h"

namespace sonic::cli {
namespace {

struct InferOptions {
  std::string backend;
  std::string model;
  std::string onnx;
  std::int64_t classes = 0;
  std::uint64_t seed = 1;
  int batch = 1;
  std::string precision = "fp32";
  int iterations = 20;
  int warmup = 3;
  int threads = 0;
  std::string device;
  std::string backend_options;
  std::string inputs = "random";  // or a dataset or raw float32 file
  std::string output;             // raw float32 file for the last run's output; empty: none
  std::string calibration;        // int8: a dataset or raw float32 file; empty: the backend's
  bool check = false;
  bool json = false;
};

struct LatencySummary {
  double p50_ms, p90_ms, p99_ms, min_ms, mean_ms, max_ms;
  double total_s;
};

struct CheckResult {
  double relative_error = 0.0;
  int top1_agree = 0;
  int samples = 0;
  AccuracyBound bound;  // the contract's, for the precision
  bool passed = false;
};

// Everything that can be checked before a model is built or a file read: the run then either
// starts or nothing happened. Returns the backend, created once here.
std::unique_ptr<Backend> Validate(const InferOptions& options, Precision& precision) {
  if (options.model.empty() == options.onnx.empty()) {
    Throw(ErrorKind::kInvalidArgument, "give exactly one of --model NAME or --onnx FILE");
  }
  if (!options.model.empty()) {
    const auto& models = BuiltinModels();
    if (std::none_of(models.begin(), models.end(),
                     [&](const ModelInfo& m) { return m.name == options.model; })) {
      std::vector<std::string> names;
      for (const ModelInfo& m : models) names.push_back(m.name);
      Throw(ErrorKind::kNotFound, "unknown model '{}': the built-in models are {}", options.model,
            fmt::join(names, ", "));
    }
  } else {
    std::error_code error;
    if (!std::filesystem::is_regular_file(options.onnx, error)) {
      Throw(ErrorKind::kNotFound, "--onnx {}: no such file", options.onnx);
    }
  }
  if (options.batch < 1) {
    Throw(ErrorKind::kInvalidArgument, "--batch {}: must be at least 1", options.batch);
  }
  if (options.iterations < 1) {
    Throw(ErrorKind::kInvalidArgument, "--iterations {}: must be at least 1", options.iterations);
  }
  if (options.warmup < 0) {
    Throw(ErrorKind::kInvalidArgument, "--warmup {}: must be 0 or more", options.warmup);
  }
  if (options.threads < 0) {
    Throw(ErrorKind::kInvalidArgument, "--threads {}: must be 0 (all cores) or more",
          options.threads);
  }
  if (options.classes < 0) {
    Throw(ErrorKind::kInvalidArgument, "--classes {}: must be 0 (the model's default) or more",
          options.classes);
  }
  for (const auto& [flag, file] :
       {std::pair{"--inputs", options.inputs}, std::pair{"--calibration", options.calibration}}) {
    std::error_code error;
    if (!file.empty() && file != "random" && !std::filesystem::is_regular_file(file, error)) {
      Throw(ErrorKind::kNotFound, "{} {}: no such file", flag, file);
    }
  }
  precision = ParsePrecision(options.precision);
  if (!options.calibration.empty() && precision != Precision::kInt8) {
    Throw(ErrorKind::kInvalidArgument, "--calibration is for --precision int8 (not {})",
          options.precision);
  }
  return MakeUsableBackend(options.backend, precision, options.device, options.backend_options);
}

LatencySummary Summarise(std::vector<std::int64_t> latencies_ns) {
  std::sort(latencies_ns.begin(), latencies_ns.end());
  const auto n = static_cast<double>(latencies_ns.size());
  // Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.
  const auto percentile_ms = [&](double p) {
    const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(p / 100.0 * n)));
    return static_cast<double>(latencies_ns[rank - 1]) * 1e-6;
  };
  double total_ns = 0.0;
  for (std::int64_t ns : latencies_ns) total_ns += static_cast<double>(ns);
  return {percentile_ms(50),   percentile_ms(90),
          percentile_ms(99),   static_cast<double>(latencies_ns.front()) * 1e-6,
          total_ns / n * 1e-6, static_cast<double>(latencies_ns.back()) * 1e-6,
          total_ns * 1e-9};
}

CheckResult Compare(std::span<const float> output, std::span<const float> reference, int batch,
                    Precision precision) {
  const auto per_sample = static_cast<std::int64_t>(output.size()) / batch;
  const double agreement = TopOneAgreement(output, reference, per_sample, kTopOneTieFraction);
  CheckResult check{.relative_error = RelativeError(output, reference),
                    .top1_agree = static_cast<int>(std::lround(agreement * batch)),
                    .samples = batch,
                    .bound = ContractBound(precision)};
  check.passed = check.bound.Met(check.bound.criterion == AccuracyBound::Criterion::kRelativeError
                                     ? check.relative_error
                                     : agreement);
  return check;
}

JsonArray ShapeJson(const Shape& shape) {
  JsonArray array;
  for (std::int64_t dim : shape) array.Append(dim);
  return array;
}

// What Run measured and reports, besides the options, the backend and the model.
struct InferReport {
  std::string model_name;  // the built-in name, or the ONNX graph's
  double compile_s = 0.0;
  LatencySummary latency{};
  double images_per_s = 0.0;
  double gflop_per_s = 0.0;
  std::optional<CheckResult> check;  // with --check
};

// --check: the same input through the reference backend, compared with `output`.
CheckResult CheckAgainstReference(const InferOptions& options, const Graph& graph,
                                  Precision precision, std::span<const float> input,
                                  std::span<const float> output, const std::string& output_name) {
  CompileOptions reference_options;
  reference_options.max_batch = options.batch;
  reference_options.threads = options.threads;
  std::vector<float> reference =
      AllocateFloats(graph.output_shape(), options.batch, "reference " + output_name);
  CompileNamingMemory(*MakeBackend("reference"), graph, reference_options)
      ->Run(input, options.batch, reference);
  return Compare(output, reference, options.batch, precision);
}

void PrintJson(const InferOptions& options, const Backend& backend, const Graph& graph,
               Precision precision, const InferReport& report) {
  const LatencySummary& latency = report.latency;
  JsonObject object;
  object.Add("command", "infer")
      .Add("backend", JsonObject()
                          .Add("name", options.backend)
                          .Add("device_kind", DeviceKindName(backend.device_kind()))
                          .Add("device", backend.device_name())
                          .Add("selector", options.device)
                          .Add("backend_options", options.backend_options)
                          .Add("library", backend.library_version()))
      .Add("model", JsonObject()
                        .Add("name", report.model_name)
                        .Add("source", options.onnx.empty() ? "builtin" : "onnx")
                        .Add("path", options.onnx)
                        .Add("input_shape", ShapeJson(graph.input_shape()))
                        .Add("output_shape", ShapeJson(graph.output_shape()))
                        .Add("macs_per_sample", graph.MacsPerSample())
                        .Add("parameters", graph.ParameterCount()))
      .Add("precision", PrecisionName(precision))
      .Add("batch", options.batch)
      .Add("threads", options.threads)
      .Add("seed", static_cast<std::int64_t>(options.seed))
      .Add("warmup", options.warmup)
      .Add("iterations", options.iterations)
      .Add("compile_s", report.compile_s)
      .Add("latency_ms", JsonObject()
                             .Add("p50", latency.p50_ms)
                             .Add("p90", latency.p90_ms)
                             .Add("p99", latency.p99_ms)
                             .Add("min", latency.min_ms)
                             .Add("mean", latency.mean_ms)
                             .Add("max", latency.max_ms))
      .Add("throughput_img_s", report.images_per_s)
      .Add("gflop_s", report.gflop_per_s);
  if (const std::optional<CheckResult>& check = report.check) {
    object.Add("check",
               JsonObject()
                   .Add("reference", "reference")
                   .Add("relative_error", check->relative_error)
                   .Add("top1_agreement", static_cast<double>(check->top1_agree) / check->samples)
                   .Add("samples", check->samples)
                   .Add("criterion", check->bound.criterion_name())
                   .Add("tolerance", check->bound.bound)
                   .Add("passed", check->passed));
  } else {
    object.AddNull("check");
  }
  fmt::print("{}\n", object.str());
}

void PrintText(const InferOptions& options, const Backend& backend, const Graph& graph,
               Precision precision, const InferReport& report) {
  const LatencySummary& latency = report.latency;
  const std::string threads = options.threads == 0 ? "all" : std::to_string(options.threads);
  fmt::print("model      {}{}  input {}  {:.3f} GMAC/sample\n", report.model_name,
             options.onnx.empty() ? "" : " (" + options.onnx + ")",
             ShapeToString(graph.input_shape()), graph.MacsPerSample() * 1e-9);
  fmt::print("backend    {} ({}, {})  precision {}  threads {}  batch {}\n", options.backend,
             backend.device_name(), backend.library_version(), PrecisionName(precision), threads,
             options.batch);
  fmt::print("compile    {:.3f} s (untimed)\n", report.compile_s);
  fmt::print(
      "latency    p50 {:.3f} ms  p90 {:.3f} ms  p99 {:.3f} ms  min {:.3f} ms  mean {:.3f} ms  "
      "({} runs after {} warm-up)\n",
      latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.min_ms, latency.mean_ms,
      options.iterations, options.warmup);
  fmt::print("throughput {:.2f} img/s  {:.1f} GFLOP/s\n", report.images_per_s, report.gflop_per_s);
  if (const std::optional<CheckResult>& check = report.check) {
    fmt::print(
        "check      vs reference: relative error {:.3g}, top-1 agreement {}/{}; {} {} {:g}: "
        "{}\n",
        check->relative_error, check->top1_agree, check->samples, check->bound.criterion_name(),
        check->bound.criterion == AccuracyBound::Criterion::kRelativeError ? "<=" : ">=",
        check->bound.bound, check->passed ? "ok" : "FAILED");
  }
}

void Run(const InferOptions& options) {
  Precision precision;
  const std::unique_ptr<Backend> backend = Validate(options, precision);

  // Untimed setup: model, input, compile.
  const Graph graph =
      options.onnx.empty()
          ? BuildModel(options.model, {.num_classes = options.classes, .seed = options.seed})
          : ImportOnnx(options.onnx);
  const std::string output_name = fmt::format("output '{}'", graph.values[graph.output].name);
  const auto sample_floats = static_cast<std::size_t>(NumElements(graph.input_shape()));
  std::vector<float> input;
  if (options.inputs == "random") {
    input = AllocateFloats(graph.input_shape(), options.batch,
                           fmt::format("input '{}'", graph.values[graph.input].name));
    const RandomInputSource random(options.seed);
    for (int i = 0; i < options.batch; ++i) {
      random.Sample(i, std::span(input).subspan(i * sample_floats, sample_floats));
    }
  } else {
    // Row i of --output is sample i of the file: a file with fewer samples than the batch is an
    // error, not a batch that repeats them.
    input = LoadSamples(options.inputs, graph.input_shape(), options.batch);
    const std::size_t samples = input.size() / sample_floats;
    if (samples < static_cast<std::size_t>(options.batch)) {
      Throw(ErrorKind::kInvalidArgument,
            "--inputs {}: {} sample(s) of shape {}, fewer than --batch {}: expected at least one "
            "sample per row of the batch",
            options.inputs, samples, ShapeToString(graph.input_shape()), options.batch);
    }
  }
  std::vector<float> output = AllocateFloats(graph.output_shape(), options.batch, output_name);

  CompileOptions compile_options;
  compile_options.max_batch = options.batch;
  compile_options.precision = precision;
  compile_options.threads = options.threads;
  compile_options.device = options.device;
  compile_options.backend_options = options.backend_options;
  std::vector<float> calibration;
  if (!options.calibration.empty()) {
    calibration = LoadSamples(options.calibration, graph.input_shape(), kMaxCalibrationSamples);
    compile_options.calibration = calibration;
  } else if (precision == Precision::kInt8 && backend->name() != "null") {
    fmt::print(stderr, "{}\n", RandomCalibrationWarning(graph.name));
  }
  InferReport report;
  report.model_name = options.onnx.empty() ? options.model : graph.name;
  const std::int64_t compile_start_ns = MonotonicNs();
  const std::unique_ptr<Executable> executable =
      CompileNamingMemory(*backend, graph, compile_options);
  report.compile_s = static_cast<double>(MonotonicNs() - compile_start_ns) * 1e-9;

  for (int i = 0; i < options.warmup; ++i) executable->Run(input, options.batch, output);
  std::vector<std::int64_t> latencies_ns(options.iterations);
  for (std::int64_t& latency_ns : latencies_ns) {
    const std::int64_t start_ns = MonotonicNs();
    executable->Run(input, options.batch, output);
    latency_ns = MonotonicNs() - start_ns;
  }
  report.latency = Summarise(latencies_ns);
  report.images_per_s = options.batch * options.iterations / report.latency.total_s;
  report.gflop_per_s =
      2.0 * static_cast<double>(graph.MacsPerSample()) * report.images_per_s * 1e-9;

  if (!options.output.empty()) WriteRawFloats(options.output, output);
  if (options.check) {
    report.check = CheckAgainstReference(options, graph, precision, input, output, output_name);
  }
  if (options.json) {
    PrintJson(options, *backend, graph, precision, report);
  } else {
    PrintText(options, *backend, graph, precision, report);
  }
  if (report.check && !report.check->passed) {
    fmt::print(stderr, "sonicbench: infer --check failed: {} outside tolerance {:g}\n",
               report.check->bound.criterion_name(), report.check->bound.bound);
    throw CLI::RuntimeError(kExitFailure);
  }
}

}  // namespace

// A backend sizes its buffers by the graph's values, so running out of memory becomes an error
// naming the largest of them and its bytes at the batch size, rather than a bare std::bad_alloc.
void RegisterInferCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "infer", "Run one model on one backend in this process and report latency and throughput");
  auto options = std::make_shared<InferOptions>();
  cmd->add_option("--backend", options->backend, "Backend name (see `sonicbench backends`)")
      ->required();
  auto* model =
      cmd->add_option("--model", options->model, "Built-in model name (see `sonicbench models`)");
  auto* onnx = cmd->add_option("--onnx", options->onnx, "Load the model from this ONNX file");
  auto* classes = cmd->add_option("--classes", options->classes,
                                  "Output classes of a built-in model (0: its default)");
  model->excludes(onnx);
  classes->excludes(onnx);
  cmd->add_option("--seed", options->seed,
                  "Seed of the built-in model's weights and of the input tensor")
      ->capture_default_str();
  cmd->add_option("--batch", options->batch, "Samples per run")->capture_default_str();
  cmd->add_option("--precision", options->precision, "fp32, bf16, fp16, int8, ... (per backend)")
      ->capture_default_str();
  cmd->add_option("--iterations", options->iterations, "Timed runs")->capture_default_str();
  cmd->add_option("--warmup", options->warmup, "Untimed runs before the timed ones")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "CPU threads for the backend (0: all cores)")
      ->capture_default_str();
  AddBackendChoiceOptions(*cmd, options->device, options->backend_options);
  cmd->add_option("--inputs", options->inputs,
                  "The input rows: random (seeded uniform [0, 1)), or a dataset file, or a raw "
                  "float32 file (C order, samples back to back; its first --batch samples, which "
                  "it must have)")
      ->capture_default_str();
  cmd->add_option("--output", options->output,
                  "Write the last run's output there as raw float32 (C order, batch first)");
  cmd->add_option("--calibration", options->calibration,
                  "int8: calibrate on the first samples (at most 64) of this dataset or raw "
                  "float32 file of the model's inputs; without it, seeded random inputs (a "
                  "warning says what that costs)");
  cmd->add_flag("--check", options->check,
                "Compare the output with the reference backend on the same input; exit 1 if "
                "outside the precision's tolerance (fp32 1e-4, bf16/fp16 2e-2 relative error; "
                "int8 and bfp8: top-1 agreement >= 98%, where a class within 1% of the "
                "reference's score range of its top class counts as agreeing, so that a model "
                "whose two best classes are nearly tied, as with random weights, is judged on "
                "what the precision changes, not on coin flips; the relative error is printed "
                "too)");
  cmd->add_flag("--json", options->json, "Print one JSON object instead of text");
  cmd->footer(
      "Compile and warm-up are untimed; each timed run is measured with the monotonic clock.\n"
      "Throughput = batch x iterations / total time; GFLOP/s = 2 x MACs per sample x img/s.\n"
      "Examples:\n"
      "  sonicbench infer --backend onednn --model resnet50 --batch 16 --iterations 20\n"
      "  sonicbench infer --backend onednn --model resnet50 --precision int8 --batch 64 --check\n"
      "  sonicbench infer --backend reference --model jet_cnn --batch 2 --iterations 3 --check "
      "--json\n"
      "  sonicbench infer --backend onednn --onnx resnet50.onnx --threads 2 --batch 1");
  cmd->callback([options] { Run(*options); });
}

}  // namespace sonic::cli
