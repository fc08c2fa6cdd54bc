#include "service/validation.h"

#include <fmt/format.h>

namespace sonic::service {
namespace {

template <typename... Args>
grpc::Status Invalid(fmt::format_string<Args...> format, Args&&... args) {
  return {grpc::StatusCode::INVALID_ARGUMENT, fmt::format(format, std::forward<Args>(args)...)};
}

bool HasTypedContents(const inference::InferTensorContents& c) {
  return c.bool_contents_size() + c.int_contents_size() + c.int64_contents_size() +
             c.uint_contents_size() + c.uint64_contents_size() + c.fp32_contents_size() +
             c.fp64_contents_size() + c.bytes_contents_size() >
         0;
}

}  // namespace

std::string WireShape(const Shape& per_sample) {
  Shape wire{-1};
  wire.insert(wire.end(), per_sample.begin(), per_sample.end());
  return ShapeToString(wire);
}

grpc::Status ValidateInferRequest(const inference::ModelInferRequest& request,
                                  const ModelSpec& spec, const SharedMemoryRegistry& regions,
                                  ValidatedInput* input) {
  if (!request.model_version().empty() && request.model_version() != kModelVersion) {
    return {grpc::StatusCode::NOT_FOUND,
            fmt::format("model '{}' has no version '{}'; available versions: {}", spec.name,
                        request.model_version(), kModelVersion)};
  }
  if (request.inputs_size() != 1) {
    return Invalid("model '{}' expects 1 input tensor named '{}', got {}", spec.name, kInputName,
                   request.inputs_size());
  }
  const auto& tensor = request.inputs(0);
  if (tensor.name() != kInputName) {
    return Invalid("model '{}' has no input '{}'; expected '{}'", spec.name, tensor.name(),
                   kInputName);
  }
  if (tensor.datatype() != "FP32") {
    return Invalid("input '{}' of model '{}' has datatype '{}'; expected 'FP32'", kInputName,
                   spec.name, tensor.datatype());
  }
  const auto& shape = tensor.shape();
  bool shape_ok = shape.size() == static_cast<int>(spec.input_shape.size()) + 1 && shape[0] >= 1;
  for (std::size_t i = 0; shape_ok && i < spec.input_shape.size(); ++i) {
    shape_ok = shape[static_cast<int>(i) + 1] == spec.input_shape[i];
  }
  if (!shape_ok) {
    return Invalid("input '{}' of model '{}' has shape {}; expected {} with batch >= 1", kInputName,
                   spec.name,
                   ShapeToString(std::span<const std::int64_t>(shape.data(), shape.size())),
                   WireShape(spec.input_shape));
  }
  if (shape[0] > spec.max_batch) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED,
            fmt::format("input '{}' of model '{}' has batch {}; the maximum is {}", kInputName,
                        spec.name, shape[0], spec.max_batch)};
  }
  const int batch = static_cast<int>(shape[0]);
  const std::size_t expected_bytes =
      static_cast<std::size_t>(batch * NumElements(spec.input_shape)) * sizeof(float);
  SharedTensor shared;
  if (auto status = regions.Resolve(tensor.parameters(), kInputName, expected_bytes, true, &shared);
      !status.ok()) {
    return status;
  }
  if (shared.data != nullptr) {
    if (request.raw_input_contents_size() > 0 || HasTypedContents(tensor.contents())) {
      return Invalid("input '{}' is in shared memory and also carries data; send one of them",
                     kInputName);
    }
    *input = {shared.data, shared.bytes, batch, std::move(shared.region), {}};
  } else if (request.raw_input_contents_size() > 0) {
    if (request.raw_input_contents_size() != 1) {
      return Invalid("request has {} raw_input_contents entries; expected 1, one per input",
                     request.raw_input_contents_size());
    }
    if (HasTypedContents(tensor.contents())) {
      return Invalid("input '{}' has both contents and raw_input_contents; send one of them",
                     kInputName);
    }
    const std::string& raw = request.raw_input_contents(0);
    if (raw.size() != expected_bytes) {
      return Invalid("input '{}' of model '{}' has {} bytes; expected {} (batch {} x {} FP32)",
                     kInputName, spec.name, raw.size(), expected_bytes, batch,
                     ShapeToString(spec.input_shape));
    }
    *input = {raw.data(), raw.size(), batch, nullptr, {}};
  } else {
    const auto& contents = tensor.contents();
    const std::size_t floats = static_cast<std::size_t>(contents.fp32_contents_size());
    if (HasTypedContents(contents) && floats == 0) {
      return Invalid(
          "input '{}' carries non-FP32 contents; expected fp32_contents or "
          "raw_input_contents",
          kInputName);
    }
    if (floats * sizeof(float) != expected_bytes) {
      return Invalid("input '{}' of model '{}' has {} FP32 values; expected {} (batch {} x {})",
                     kInputName, spec.name, floats, expected_bytes / sizeof(float), batch,
                     ShapeToString(spec.input_shape));
    }
    *input = {reinterpret_cast<const char*>(contents.fp32_contents().data()),
              expected_bytes,
              batch,
              nullptr,
              {}};
  }
  const std::size_t output_bytes =
      static_cast<std::size_t>(batch * NumElements(spec.output_shape)) * sizeof(float);
  for (const auto& output : request.outputs()) {
    if (output.name() != kOutputName) {
      return Invalid("model '{}' has no output '{}'; expected '{}'", spec.name, output.name(),
                     kOutputName);
    }
    if (auto status =
            regions.Resolve(output.parameters(), kOutputName, output_bytes, false, &input->output);
        !status.ok()) {
      return status;
    }
  }
  return grpc::Status::OK;
}

}  // namespace sonic::service
