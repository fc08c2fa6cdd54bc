#include "bench/loadgen/physics_measurement.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "backends/registry.h"
#include "core/error.h"
#include "core/tensor.h"
#include "datasets/sample_source.h"
#include "service/client.h"

namespace sonic {

LabelledSamples LoadLabelledSamples(const Graph& graph, const std::string& dataset,
                                    std::int64_t max_samples, int threads) {
  LabelledSamples samples;
  samples.dataset = dataset;
  samples.set = LoadImages(dataset, graph.input_shape(), {}, max_samples);
  const auto signal = std::count(samples.set.labels.begin(), samples.set.labels.end(), 1);
  if (signal == 0 || signal == samples.set.size()) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: {} of its first {} samples are signal (label 1): a physics measurement needs "
          "signal and background",
          dataset, signal, samples.set.size());
  }
  CompileOptions reference;
  reference.max_batch = 256;
  reference.threads = threads;
  samples.reference = RunOnBackend(*MakeBackend("reference"), graph, reference, samples.set.images,
                                   samples.set.size());
  return samples;
}

std::vector<float> RunOnBackend(const Backend& backend, const Graph& graph, CompileOptions options,
                                std::span<const float> inputs, std::int64_t samples) {
  options.max_batch = static_cast<int>(std::min<std::int64_t>(options.max_batch, samples));
  const std::unique_ptr<Executable> executable = CompileNamingMemory(backend, graph, options);
  const std::int64_t in_floats = NumElements(graph.input_shape());
  const std::int64_t out_floats = NumElements(graph.output_shape());
  std::vector<float> outputs = AllocateFloats(graph.output_shape(), samples, "outputs");
  for (std::int64_t first = 0; first < samples; first += options.max_batch) {
    const auto rows = static_cast<int>(std::min<std::int64_t>(options.max_batch, samples - first));
    executable->Run(inputs.subspan(first * in_floats, rows * in_floats), rows,
                    std::span(outputs).subspan(first * out_floats, rows * out_floats));
  }
  return outputs;
}

std::vector<float> RunOnServer(const std::string& address, const std::string& model,
                               const Shape& input_shape, std::span<const float> inputs,
                               std::int64_t samples, int batch) {
  service::ClientOptions client_options;
  client_options.address = address;
  service::Client client(client_options);
  client.WaitForReady(30'000);
  const service::RemoteModelMetadata metadata = client.ModelMetadata(model);
  if (metadata.inputs.empty()) {
    Throw(ErrorKind::kInvalidArgument, "model '{}' on {} has no input", model, address);
  }
  const std::int64_t in_floats = NumElements(input_shape);
  std::vector<float> outputs;
  for (std::int64_t first = 0; first < samples; first += batch) {
    const std::int64_t rows = std::min<std::int64_t>(batch, samples - first);
    Shape shape = {rows};
    shape.insert(shape.end(), input_shape.begin(), input_shape.end());
    service::InferInput input;
    input.model = model;
    input.input_name = metadata.inputs[0].name;
    input.shape = std::move(shape);
    input.data = inputs.subspan(first * in_floats, rows * in_floats);
    std::vector<float> output;
    const service::RpcStatus status = client.Infer(input, &output);
    if (!status.ok()) {
      Throw(ErrorKind::kBackend, "model '{}' on {}: {} {}", model, address,
            service::RpcCodeName(status.code), status.message);
    }
    outputs.insert(outputs.end(), output.begin(), output.end());
  }
  return outputs;
}

}  // namespace sonic
