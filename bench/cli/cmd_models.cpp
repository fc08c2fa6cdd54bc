#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "bench/cli/commands.h"
#include "bench/cli/json.h"
#include "core/error.h"
#include "models/onnx_import.h"
#include "models/zoo.h"

namespace sonic::cli {
namespace {

struct ModelsOptions {
  std::string onnx;
  std::string model;
  bool json = false;
};

// Whether one backend runs the model at one precision: compiled at batch 1 when the backend can
// run here (the only complete answer: some rules need the fused plan), else checked node by
// node (Backend::CheckGraph, pure).
struct Verdict {
  std::string backend;
  std::string precision;
  bool available = true;
  bool runs = false;
  std::string reason;  // why not, or why it could not be tried here
};

Verdict Judge(const Backend& backend, const Graph& graph, Precision precision) {
  Verdict verdict;
  verdict.backend = backend.name();
  verdict.precision = PrecisionName(precision);
  const std::string unavailable = backend.unavailable_reason();
  try {
    if (unavailable.empty()) {
      CompileOptions options;
      options.max_batch = 1;
      options.precision = precision;
      backend.Compile(graph, options);
    } else {
      backend.CheckGraph(graph, precision);
    }
    verdict.runs = true;
  } catch (const Error& e) {
    // This command is where the hint points: the reason stands without it.
    std::string_view reason = e.what();
    if (reason.ends_with(Backend::kSupportHint)) reason.remove_suffix(Backend::kSupportHint.size());
    verdict.reason = reason;
  }
  if (!unavailable.empty()) {
    verdict.available = false;
    const std::string graph_verdict =
        verdict.runs ? "every node is supported" : std::move(verdict.reason);
    verdict.reason = fmt::format("not available here ({}); {}", unavailable, graph_verdict);
    verdict.runs = false;
  }
  return verdict;
}

std::vector<Verdict> JudgeEveryBackend(const Graph& graph) {
  std::vector<Verdict> verdicts;
  for (const std::string& name : CompiledBackendNames()) {
    if (name == "null") continue;  // runs any graph: it computes nothing
    const std::unique_ptr<Backend> backend = MakeBackend(name);
    for (Precision precision : backend->precisions()) {
      verdicts.push_back(Judge(*backend, graph, precision));
    }
  }
  return verdicts;
}

void PrintBuiltins(bool json) {
  if (json) {
    JsonArray list;
    for (const ModelInfo& info : BuiltinModels()) {
      JsonArray shape;
      for (std::int64_t dim : info.input_shape) shape.Append(dim);
      list.Append(JsonObject()
                      .Add("name", info.name)
                      .Add("description", info.description)
                      .Add("input_shape", shape)
                      .Add("default_classes", info.default_classes));
    }
    fmt::print("{}\n", JsonObject().Add("models", list).str());
    return;
  }
  fmt::print("{:<10} {:<14} {:>8}  {}\n", "model", "input", "classes", "description");
  for (const ModelInfo& info : BuiltinModels()) {
    fmt::print("{:<10} {:<14} {:>8}  {}\n", info.name, ShapeToString(info.input_shape),
               info.default_classes, info.description);
  }
}

void PrintSupport(const ModelsOptions& options) {
  Graph graph;
  if (!options.onnx.empty()) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(options.onnx, error)) {
      Throw(ErrorKind::kNotFound, "--onnx {}: no such file", options.onnx);
    }
    graph = ImportOnnx(options.onnx);
  } else {
    graph = BuildModel(options.model);
  }
  const std::vector<Verdict> verdicts = JudgeEveryBackend(graph);
  if (options.json) {
    JsonArray list;
    for (const Verdict& v : verdicts) {
      list.Append(JsonObject()
                      .Add("backend", v.backend)
                      .Add("precision", v.precision)
                      .Add("available", v.available)
                      .Add("runs", v.runs)
                      .Add("reason", v.reason));
    }
    JsonArray input, output;
    for (std::int64_t dim : graph.input_shape()) input.Append(dim);
    for (std::int64_t dim : graph.output_shape()) output.Append(dim);
    fmt::print("{}\n", JsonObject()
                           .Add("model", graph.name)
                           .Add("source", options.onnx.empty() ? "builtin" : "onnx")
                           .Add("path", options.onnx)
                           .Add("input_shape", input)
                           .Add("output_shape", output)
                           .Add("nodes", static_cast<std::int64_t>(graph.nodes.size()))
                           .Add("parameters", graph.ParameterCount())
                           .Add("macs_per_sample", graph.MacsPerSample())
                           .Add("backends", list)
                           .str());
    return;
  }
  fmt::print(
      "model {}{}: input {} -> output {}, {} nodes, {:.3g} M parameters, {:.3g} GMAC per "
      "sample\n",
      graph.name, options.onnx.empty() ? "" : " (" + options.onnx + ")",
      ShapeToString(graph.input_shape()), ShapeToString(graph.output_shape()), graph.nodes.size(),
      static_cast<double>(graph.ParameterCount()) * 1e-6,
      static_cast<double>(graph.MacsPerSample()) * 1e-9);
  fmt::print("{:<10} {:<9} {:<5} {}\n", "backend", "precision", "runs", "why not");
  for (const Verdict& v : verdicts) {
    fmt::print("{:<10} {:<9} {:<5} {}\n", v.backend, v.precision,
               v.runs ? "yes" : (v.available ? "no" : "n/a"), v.reason);
  }
}

}  // namespace

void RegisterModelsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "models",
      "List the built-in models, or tell which compiled backends run a model, at which "
      "precisions, and why not");
  auto options = std::make_shared<ModelsOptions>();
  auto* onnx = cmd->add_option("--onnx", options->onnx,
                               "An ONNX model: compile it at batch 1 on every compiled backend "
                               "at each of its precisions and say whether it runs");
  auto* model =
      cmd->add_option("--model", options->model, "The same for a built-in model (see the list)");
  onnx->excludes(model);
  cmd->add_flag("--json", options->json, "Print one JSON object instead of a table");
  cmd->footer(
      "A backend that cannot run here (no GPU, no OpenCL device) is checked node by node only, "
      "and its line says so (runs: n/a).\n"
      "Examples:\n"
      "  sonicbench models\n"
      "  sonicbench models --json\n"
      "  sonicbench models --onnx mobilenet_v2.onnx\n"
      "  sonicbench models --model resnet50 --json");
  cmd->callback([options] {
    if (options->onnx.empty() && options->model.empty()) {
      PrintBuiltins(options->json);
    } else {
      PrintSupport(*options);
    }
  });
}

}  // namespace sonic::cli
