#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "bench/cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
#include "datasets/sample_source.h"
#include "models/onnx_import.h"
#include "models/zoo.h"
#include "service/grpc_runtime.h"
#include "service/server.h"
#include "service/tls.h"

namespace sonic::cli {
namespace {

struct ServeOptions {
  std::vector<std::string> models;
  std::vector<std::string> onnx;
  std::int64_t classes = 0;
  std::string backend = "reference";
  int instances = 1;
  int max_batch = 8;
  std::string preferred_batch;
  std::int64_t max_queue_delay_us = 100;
  std::string dynamic_batching = "on";
  std::string precision = "fp32";
  int threads = 0;
  std::string device;
  std::string backend_options;
  std::string calibration;  // int8, one model: a dataset or raw float32 file
  int port = 8001;
  std::string bind = "127.0.0.1";
  std::string tls_cert;
  std::string tls_key;
  std::optional<std::string> token;  // absent: no authentication
  std::optional<int> metrics_port;   // absent: no metrics endpoint
  double drain_timeout_s = 30;
};

std::vector<int> ParseSizes(const std::string& text) {
  std::vector<int> sizes;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const std::optional<std::int64_t> size = TryParseInt(item);
    if (!size || *size < INT_MIN || *size > INT_MAX) {
      Throw(ErrorKind::kInvalidArgument, "--preferred-batch '{}': '{}' is not a batch size", text,
            item);
    }
    sizes.push_back(static_cast<int>(*size));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return sizes;
}

// Checks everything that needs no model build, so that a bad command line starts nothing.
service::ServerOptions Validate(const ServeOptions& options, Precision& precision) {
  if (options.models.empty() && options.onnx.empty()) {
    Throw(ErrorKind::kInvalidArgument, "give at least one --model NAME or --onnx FILE");
  }
  for (const std::string& file : options.onnx) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error)) {
      Throw(ErrorKind::kNotFound, "--onnx {}: no such file", file);
    }
  }
  if (options.dynamic_batching != "on" && options.dynamic_batching != "off") {
    Throw(ErrorKind::kInvalidArgument, "--dynamic-batching '{}': expected on or off",
          options.dynamic_batching);
  }
  if (options.instances < 1) {
    Throw(ErrorKind::kInvalidArgument, "--instances {}: must be at least 1", options.instances);
  }
  if (options.threads < 0) {
    Throw(ErrorKind::kInvalidArgument, "--threads {}: must be 0 (the backend's default) or more",
          options.threads);
  }
  // An unset variable (--token "$TOKEN") would otherwise serve without authentication.
  if (options.token.has_value() && options.token->empty()) {
    Throw(ErrorKind::kInvalidArgument,
          "--token is empty (an unset variable?): give the token clients must send, or leave "
          "--token out to serve without authentication");
  }
  // Server::Start checks them too, but only after the models are read.
  if (!options.tls_cert.empty() && !options.tls_key.empty()) {
    service::LoadTlsKeyCertPair(options.tls_cert, options.tls_key);
  }
  if (options.metrics_port.has_value() &&
      (*options.metrics_port < 0 || *options.metrics_port > 65535)) {
    Throw(ErrorKind::kInvalidArgument, "--metrics-port {}: expected a TCP port in [0, 65535]",
          *options.metrics_port);
  }
  if (options.drain_timeout_s < 0) {
    Throw(ErrorKind::kInvalidArgument, "--drain-timeout-s {}: must not be negative",
          options.drain_timeout_s);
  }
  service::BatcherOptions batching;
  batching.dynamic = options.dynamic_batching == "on";
  batching.max_batch = options.max_batch;
  batching.preferred_batch = ParseSizes(options.preferred_batch);
  batching.max_queue_delay_us = options.max_queue_delay_us;
  batching.Validate();
  precision = ParsePrecision(options.precision);
  if (!options.calibration.empty()) {
    if (precision != Precision::kInt8) {
      Throw(ErrorKind::kInvalidArgument, "--calibration is for --precision int8 (not {})",
            options.precision);
    }
    if (options.models.size() + options.onnx.size() != 1) {
      Throw(ErrorKind::kInvalidArgument,
            "--calibration holds one model's inputs: serve one model with it (got {})",
            options.models.size() + options.onnx.size());
    }
    std::error_code error;
    if (!std::filesystem::is_regular_file(options.calibration, error)) {
      Throw(ErrorKind::kNotFound, "--calibration {}: no such file", options.calibration);
    }
  }
  MakeUsableBackend(options.backend, precision, options.device, options.backend_options);
  service::ServerOptions server;
  server.bind_address = options.bind;
  server.port = options.port;
  server.tls_cert_file = options.tls_cert;
  server.tls_key_file = options.tls_key;
  server.token = options.token.value_or("");
  server.metrics_port = options.metrics_port.value_or(-1);
  service::ServedModelOptions model;
  model.backend = options.backend;
  model.instances = options.instances;
  model.batching = batching;
  model.precision = precision;
  model.threads = options.threads;
  model.device = options.device;
  model.backend_options = options.backend_options;
  server.models.push_back(model);  // the template the models are built from
  return server;
}

void Run(const ServeOptions& options) {
  Precision precision;
  service::ServerOptions server_options = Validate(options, precision);
  const service::ServedModelOptions model_template = server_options.models.front();
  server_options.models.clear();
  ModelOptions model_options;
  model_options.num_classes = options.classes;
  for (const std::string& name : options.models) {
    service::ServedModelOptions model = model_template;
    model.graph = BuildModel(name, model_options);
    FoldBatchNorm(model.graph);
    model.name = name;
    server_options.models.push_back(std::move(model));
  }
  for (const std::string& file : options.onnx) {
    service::ServedModelOptions model = model_template;
    model.graph = ImportOnnx(file);
    model.name = std::filesystem::path(file).stem().string();
    server_options.models.push_back(std::move(model));
  }
  for (service::ServedModelOptions& model : server_options.models) {
    if (!options.calibration.empty()) {
      model.calibration =
          LoadSamples(options.calibration, model.graph.input_shape(), kMaxCalibrationSamples);
    } else if (precision == Precision::kInt8 && options.backend != "null") {
      fmt::print(stderr, "{}\n", RandomCalibrationWarning(model.name));
    }
  }

  // SIGTERM and SIGINT are taken synchronously by this thread (sigwait); blocking them before
  // the server starts makes every gRPC and instance thread inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto server = service::Server::Start(std::move(server_options));
  fmt::print("sonicbench serve: listening on {} ({}{}); models:", server->address(),
             options.tls_cert.empty() ? "plaintext" : "TLS",
             options.token.has_value() ? ", bearer token required" : "");
  for (const auto& stats : server->Statistics()) fmt::print(" {}", stats.name);
  fmt::print("; backend {}, {} instance(s), batching {}\n", model_template.backend,
             model_template.instances, model_template.batching.ToString());
  if (const service::MetricsExporter* metrics = server->metrics(); metrics != nullptr) {
    fmt::print("sonicbench serve: metrics on {} (GPU metrics: {})\n", metrics->url(),
               metrics->gpu_status());
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  fmt::print("sonicbench serve: {} received, draining in-flight requests\n",
             signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  server->Shutdown(
      std::chrono::milliseconds(static_cast<std::int64_t>(options.drain_timeout_s * 1e3)));
  for (const auto& stats : server->Statistics()) fmt::print("{}", stats.ToString());
  for (const auto& [location, count] : service::SuppressedLibraryLogs()) {
    fmt::print("sonicbench serve: {} more message(s) from {} counted, not logged\n", count,
               location);
  }
  fmt::print("sonicbench serve: stopped\n");
  std::fflush(stdout);
}

}  // namespace

void RegisterServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve", "Serve models over the KServe v2 gRPC protocol (Triton-compatible) until SIGTERM");
  cmd->add_option("--model", options->models,
                  "Built-in model to serve (repeatable; see `sonicbench models`)");
  cmd->add_option("--onnx", options->onnx,
                  "Serve the model in this ONNX file, named after the file (repeatable)");
  cmd->add_option("--classes", options->classes, "Classes of built-in models (0: their default)")
      ->capture_default_str();
  cmd->add_option("--backend", options->backend, "Backend of every model")->capture_default_str();
  cmd->add_option("--instances", options->instances,
                  "Model instances (each its own Executable and thread)")
      ->capture_default_str();
  cmd->add_option("--max-batch", options->max_batch, "Largest batch one execution runs")
      ->capture_default_str();
  cmd->add_option("--preferred-batch", options->preferred_batch,
                  "Batch sizes the dynamic batcher runs at once, e.g. 4,8");
  cmd->add_option("--max-queue-delay-us", options->max_queue_delay_us,
                  "How long a request may wait for others to join its batch")
      ->capture_default_str();
  cmd->add_option("--dynamic-batching", options->dynamic_batching,
                  "on: combine requests; off: every request runs alone")
      ->capture_default_str();
  cmd->add_option("--precision", options->precision, "fp32, bf16, int8, ... (per backend)")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "CPU threads per instance (0: the default)")
      ->capture_default_str();
  AddBackendChoiceOptions(*cmd, options->device, options->backend_options);
  cmd->add_option("--calibration", options->calibration,
                  "int8: calibrate the (one) model on the first samples (at most 64) of this "
                  "dataset or raw float32 file of its inputs; without it, seeded random inputs "
                  "(a warning says what that costs)");
  cmd->add_option("--port", options->port, "TCP port (0: any free port)")->capture_default_str();
  cmd->add_option("--bind", options->bind, "Address to listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--tls-cert", options->tls_cert, "PEM certificate chain: serve over TLS");
  cmd->add_option("--tls-key", options->tls_key, "PEM private key of --tls-cert");
  cmd->add_option_function<std::string>(
      "--token", [options](const std::string& token) { options->token = token; },
      "Require 'authorization: Bearer TOKEN' metadata on every call (TOKEN not empty)");
  cmd->add_option_function<int>(
      "--metrics-port", [options](int port) { options->metrics_port = port; },
      "Serve Prometheus metrics (Triton's names) at http://BIND:PORT/metrics (0: any free port; "
      "off unless given)");
  cmd->add_option("--drain-timeout-s", options->drain_timeout_s,
                  "On SIGTERM/SIGINT, how long in-flight requests may take to finish")
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  sonicbench serve --model resnet50 --backend onednn --instances 2 --max-batch 8\n"
      "  sonicbench serve --model jet_cnn --model resnet50 --backend null --port 0\n"
      "  sonicbench serve --model resnet50 --backend cudnn --metrics-port 8002\n"
      "  sonicbench serve --model resnet50 --dynamic-batching off --tls-cert c.pem --tls-key "
      "k.pem\n"
      "Tensors: input 'input' FP32 [-1, C, H, W], output 'output' FP32 [-1, classes]; "
      "version 1.");
  cmd->callback([options] { Run(*options); });
}

}  // namespace sonic::cli
