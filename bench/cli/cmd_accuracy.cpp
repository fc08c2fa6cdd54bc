// `sonicbench accuracy`: a labelled dataset through local backends at their precisions, or
// through a KServe v2 server, judged in physics terms (issue 19 §2): ROC AUC, background
// rejection at signal efficiency 0.3 and 0.5, accuracy, and each output's deviation from the
// reference backend's fp32 output.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backends/registry.h"
#include "bench/cli/commands.h"
#include "bench/cli/json.h"
#include "bench/loadgen/physics_measurement.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/tensor.h"
#include "datasets/sample_source.h"
#include "models/onnx_import.h"
#include "models/zoo.h"
#include "results/physics_metrics.h"

namespace sonic::cli {
namespace {

struct AccuracyOptions {
  std::string model;
  std::string onnx;
  std::string dataset;
  std::string backends;
  std::string server;        // host:port of a KServe v2 server serving the same model
  std::string served_model;  // its name there; empty: the ONNX file's stem or the built-in name
  std::string precisions = "fp32";
  std::string calibration;
  std::string device;
  std::string backend_options;
  std::int64_t max_samples = 4000;
  int batch = 256;
  int signal_class = 1;
  int threads = 0;
  bool json = false;
};

// One backend at one precision, or the server: its score, or why it did not run.
struct AccuracyCell {
  std::string backend;
  std::string precision;
  std::string error;  // empty: it ran
  TaggerScore score;
};

// Runs `outputs_of` and scores what it returns; an error fails this cell only.
template <typename Outputs>
AccuracyCell Judge(std::string backend, std::string precision, const AccuracyOptions& options,
                   const Graph& graph, const LabelledSamples& samples, Outputs outputs_of) {
  AccuracyCell cell{std::move(backend), std::move(precision), "", {}};
  try {
    cell.score = ScoreTagger(outputs_of(), NumElements(graph.output_shape()), options.signal_class,
                             samples.set.labels, samples.reference);
  } catch (const Error& error) {
    cell.error = error.what();
  }
  return cell;
}

AccuracyCell JudgeBackend(const std::string& backend_name, Precision precision,
                          const AccuracyOptions& options, const Graph& graph,
                          const LabelledSamples& samples, std::span<const float> calibration) {
  return Judge(backend_name, std::string(PrecisionName(precision)), options, graph, samples, [&] {
    const std::unique_ptr<Backend> backend =
        MakeUsableBackend(backend_name, precision, options.device, options.backend_options);
    if (backend_name == "reference" && precision == Precision::kFp32) {
      // The reference's own fp32 outputs (the options checked) are what the deviations are
      // measured from.
      return samples.reference;
    }
    CompileOptions compile;
    compile.max_batch = options.batch;
    compile.precision = precision;
    compile.threads = options.threads;
    compile.device = options.device;
    compile.backend_options = options.backend_options;
    compile.calibration = calibration;
    return RunOnBackend(*backend, graph, compile, samples.set.images, samples.set.size());
  });
}

std::string RejectionText(double rejection, std::int64_t background) {
  return std::isinf(rejection) ? fmt::format("> {}", background) : fmt::format("{:.1f}", rejection);
}

void PrintText(const AccuracyOptions& options, const Graph& graph, const ImageSet& set,
               std::int64_t signal, const std::vector<AccuracyCell>& cells) {
  const std::int64_t background = set.size() - signal;
  fmt::print("model {} on {} samples of {} ({} signal, {} background; score: output {})\n",
             graph.name, set.size(), options.dataset, signal, background,
             NumElements(graph.output_shape()) == 1 ? 0 : options.signal_class);
  std::size_t width = 10;  // the backend column fits its longest name ("server host:port")
  for (const AccuracyCell& c : cells) width = std::max(width, c.backend.size());
  fmt::print("{:<{}} {:<9} {:>8} {:>10} {:>10} {:>9} {:>10} {:>10}\n", "backend", width,
             "precision", "AUC", "1/eB@0.3", "1/eB@0.5", "accuracy", "max|d|", "mean|d|");
  for (const AccuracyCell& c : cells) {
    if (!c.error.empty()) {
      fmt::print("{:<{}} {:<9} not run: {}\n", c.backend, width, c.precision, c.error);
      continue;
    }
    const TaggerScore& t = c.score;
    fmt::print("{:<{}} {:<9} {:>8.5f} {:>10} {:>10} {:>9.4f} {:>10.3g} {:>10.3g}\n", c.backend,
               width, c.precision, t.roc_auc, RejectionText(t.rejection[0], background),
               RejectionText(t.rejection[1], background), t.accuracy, t.max_abs_deviation,
               t.mean_abs_deviation);
  }
  fmt::print("d: deviation of each output from the reference backend's fp32 output\n");
}

void PrintJson(const AccuracyOptions& options, const Graph& graph, const ImageSet& set,
               std::int64_t signal, const std::vector<AccuracyCell>& cells) {
  JsonArray rows;
  for (const AccuracyCell& c : cells) {
    JsonObject row;
    row.Add("backend", c.backend).Add("precision", c.precision).Add("ran", c.error.empty());
    if (!c.error.empty()) {
      rows.Append(row.Add("error", c.error));
      continue;
    }
    const TaggerScore& t = c.score;
    row.Add("auc", t.roc_auc);
    for (std::size_t i = 0; i < t.rejection.size(); ++i) {
      // JSON has no infinity: null says that no background sample passed.
      const std::string key = fmt::format("background_rejection_at_{}", kRejectionEfficiencies[i]);
      if (std::isinf(t.rejection[i])) {
        row.AddNull(key);
      } else {
        row.Add(key, t.rejection[i]);
      }
    }
    rows.Append(row.Add("accuracy", t.accuracy)
                    .Add("max_abs_deviation", t.max_abs_deviation)
                    .Add("mean_abs_deviation", t.mean_abs_deviation));
  }
  fmt::print("{}\n", JsonObject()
                         .Add("command", "accuracy")
                         .Add("model", graph.name)
                         .Add("dataset", options.dataset)
                         .Add("preprocessing", set.preprocessing)
                         .Add("samples", set.size())
                         .Add("signal", signal)
                         .Add("background", set.size() - signal)
                         .Add("cells", rows)
                         .str());
}

void Run(const AccuracyOptions& options) {
  if (options.batch < 1 || options.max_samples < 1) {
    Throw(ErrorKind::kInvalidArgument, "--batch {} and --max-samples {}: expected at least 1",
          options.batch, options.max_samples);
  }
  if (options.backends.empty() && options.server.empty()) {
    Throw(ErrorKind::kInvalidArgument, "give --backend, --server or both");
  }
  const std::vector<std::string> backends = options.backends.empty()
                                                ? std::vector<std::string>{}
                                                : SplitList(options.backends, "--backend");
  std::vector<Precision> precisions;
  for (const std::string& name : SplitList(options.precisions, "--precision")) {
    precisions.push_back(ParsePrecision(name));
  }
  const Graph graph =
      options.onnx.empty() ? BuildModel(options.model, {}) : ImportOnnx(options.onnx);
  const std::int64_t classes = NumElements(graph.output_shape());
  if (classes > 1 && (options.signal_class < 0 || options.signal_class >= classes)) {
    Throw(ErrorKind::kInvalidArgument,
          "--signal-class {}: the model has {} output classes: expected 0 to {}",
          options.signal_class, classes, classes - 1);
  }
  std::vector<float> calibration;
  if (!options.calibration.empty()) {
    calibration = LoadSamples(options.calibration, graph.input_shape(), kMaxCalibrationSamples);
  } else if (std::find(precisions.begin(), precisions.end(), Precision::kInt8) !=
             precisions.end()) {
    fmt::print(stderr, "{}\n", RandomCalibrationWarning(graph.name));
  }
  const LabelledSamples samples =
      LoadLabelledSamples(graph, options.dataset, options.max_samples, options.threads);
  const ImageSet& set = samples.set;
  const auto signal =
      static_cast<std::int64_t>(std::count(set.labels.begin(), set.labels.end(), 1));

  std::vector<AccuracyCell> cells;
  for (const std::string& backend : backends) {
    const std::vector<Precision> has = MakeBackend(backend)->precisions();
    for (Precision precision : precisions) {
      if (std::find(has.begin(), has.end(), precision) == has.end()) continue;
      cells.push_back(JudgeBackend(backend, precision, options, graph, samples, calibration));
    }
  }
  if (!options.server.empty()) {
    // A server names a model after its file (sonicbench serve --onnx) or its built-in name.
    std::string model = options.served_model;
    if (model.empty()) {
      model = options.onnx.empty() ? options.model
                                   : std::filesystem::path(options.onnx).stem().string();
    }
    // The server's backend and precision, whatever they are, judged like a local cell.
    cells.push_back(Judge("server " + options.server, "server's", options, graph, samples, [&] {
      return RunOnServer(options.server, model, graph.input_shape(), set.images, set.size(),
                         options.batch);
    }));
  }
  if (cells.empty()) {
    Throw(ErrorKind::kInvalidArgument,
          "no backend of --backend {} has a precision of --precision {}", options.backends,
          options.precisions);
  }
  if (options.json) {
    PrintJson(options, graph, set, signal, cells);
  } else {
    PrintText(options, graph, set, signal, cells);
  }
  const auto failed = std::count_if(cells.begin(), cells.end(),
                                    [](const AccuracyCell& c) { return !c.error.empty(); });
  if (failed > 0) {
    fmt::print(stderr, "sonicbench: {} of {} accuracy cell(s) did not run\n", failed, cells.size());
    throw CLI::RuntimeError(kExitFailure);
  }
}

}  // namespace

void RegisterAccuracyCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "accuracy",
      "Run a labelled dataset through backends at their precisions: ROC AUC, background "
      "rejection, accuracy, deviation from the reference's fp32 outputs");
  auto options = std::make_shared<AccuracyOptions>();
  auto* model =
      cmd->add_option("--model", options->model, "Built-in model name (see `sonicbench models`)");
  auto* onnx = cmd->add_option("--onnx", options->onnx, "Load the model from this ONNX file");
  model->excludes(onnx);
  cmd->add_option("--dataset", options->dataset,
                  "Labelled samples: a top-tagging, NOvA or image-set file (sonicbench dataset), "
                  "converted to the model's input shape")
      ->required();
  cmd->add_option("--backend", options->backends,
                  "Local backends, comma-separated (see `sonicbench backends`)");
  cmd->add_option("--server", options->server,
                  "Also judge this KServe v2 server (host:port: sonicbench serve, Triton, ...) "
                  "serving the same model, at whatever precision it runs");
  cmd->add_option("--served-model", options->served_model,
                  "The model's name on --server (default: the ONNX file's stem or the built-in "
                  "name)");
  cmd->add_option("--precision", options->precisions,
                  "Precisions, comma-separated; each backend runs those it has")
      ->capture_default_str();
  cmd->add_option("--calibration", options->calibration,
                  "int8: calibrate on the first samples (at most 64) of this dataset or raw "
                  "float32 file, not the evaluated one (without it, seeded random inputs)");
  cmd->add_option("--max-samples", options->max_samples, "Evaluate the first N samples")
      ->capture_default_str();
  cmd->add_option("--batch", options->batch, "Samples per execution")->capture_default_str();
  cmd->add_option("--signal-class", options->signal_class,
                  "The output column that scores signal (label 1)")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "CPU threads per backend (0: all cores)")
      ->capture_default_str();
  AddBackendChoiceOptions(*cmd, options->device, options->backend_options);
  cmd->add_flag("--json", options->json, "Print one JSON object instead of text");
  cmd->footer(
      "Rejection 1/eB at signal efficiency eS: eB interpolated on the ROC curve (Kasieczka et al. "
      "2019); '> N' when no background sample passes.\n"
      "Example:\n"
      "  sonicbench accuracy --onnx tagger.onnx --dataset test_images.h5 --backend "
      "reference,onednn --precision fp32,bf16,int8 --calibration calibration.bin\n"
      "  sonicbench accuracy --onnx tagger.onnx --dataset test_images.h5 --server "
      "gpu-node:8001");
  cmd->callback([options] {
    if (options->model.empty() == options->onnx.empty()) {
      Throw(ErrorKind::kInvalidArgument, "give exactly one of --model and --onnx");
    }
    Run(*options);
  });
}

}  // namespace sonic::cli
