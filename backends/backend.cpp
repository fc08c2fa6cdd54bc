#include "backends/backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/error.h"
#include "core/parse.h"

namespace sonic {

std::string_view DeviceKindName(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kNone:
      return "none";
    case DeviceKind::kCpu:
      return "cpu";
    case DeviceKind::kGpu:
      return "gpu";
    case DeviceKind::kFpga:
      return "fpga";
  }
  return "unknown";
}

void Executable::Run(std::span<const float> input, int batch, std::span<float> output,
                     DeviceTiming* timing) {
  if (batch < 1 || batch > max_batch_) {
    Throw(ErrorKind::kInvalidArgument, "batch {} is outside [1, {}] (the compiled maximum)", batch,
          max_batch_);
  }
  const auto in_count = static_cast<std::size_t>(batch * NumElements(input_shape_));
  const auto out_count = static_cast<std::size_t>(batch * NumElements(output_shape_));
  if (input.size() != in_count) {
    Throw(ErrorKind::kInvalidArgument, "input has {} floats: expected {} (batch {} x {})",
          input.size(), in_count, batch, ShapeToString(input_shape_));
  }
  if (output.size() != out_count) {
    Throw(ErrorKind::kInvalidArgument, "output has room for {} floats: expected {} (batch {} x {})",
          output.size(), out_count, batch, ShapeToString(output_shape_));
  }
  DoRun(input.data(), batch, output.data(), timing);
}

void ThrowVendorError(bool out_of_memory, std::string_view message) {
  throw Error(out_of_memory ? ErrorKind::kResourceExhausted : ErrorKind::kBackend,
              std::string(message));
}

void Backend::ValidateOptions(std::string_view device, std::string_view backend_options) const {
  if (!Trim(device).empty() && device_forms().empty()) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: device '{}': this backend has one device and takes no selector{}", name(), device,
          device.find('=') == std::string_view::npos || option_forms().empty()
              ? ""
              : fmt::format(" (backend options go in --backend-options / backend_options: {})",
                            option_forms()));
  }
  if (!Trim(backend_options).empty() && option_forms().empty()) {
    Throw(ErrorKind::kInvalidArgument, "{}: backend options '{}': this backend takes none", name(),
          backend_options);
  }
  DoValidateOptions(device, backend_options);
}

std::map<std::string, std::string, std::less<>> ParseBackendOptions(
    std::string_view text, std::string_view backend, std::initializer_list<std::string_view> keys,
    std::string_view forms) {
  std::map<std::string, std::string, std::less<>> options;
  if (Trim(text).empty()) return options;
  for (const std::string& item : SplitList(text, fmt::format("{} backend options", backend))) {
    const std::string_view whole = item;
    const std::size_t equals = whole.find('=');
    const std::string key{Trim(whole.substr(0, equals))};
    const std::string value{equals == std::string_view::npos ? std::string_view()
                                                             : Trim(whole.substr(equals + 1))};
    const bool known = std::find(keys.begin(), keys.end(), key) != keys.end();
    if (!known || value.empty() || !options.emplace(key, value).second) {
      Throw(ErrorKind::kInvalidArgument, "{}: backend option '{}' is {}: expected {}", backend,
            item,
            !known          ? "unknown"
            : value.empty() ? "missing its value"
                            : "repeated",
            forms);
    }
  }
  return options;
}

std::unique_ptr<Executable> Backend::Compile(const Graph& graph,
                                             const CompileOptions& options) const {
  if (!Supports(options.precision)) {
    std::vector<std::string_view> names;
    for (Precision p : precisions()) names.push_back(PrecisionName(p));
    Throw(ErrorKind::kUnsupported, "backend '{}' does not support precision {}{}: it has {}",
          name(), PrecisionName(options.precision),
          device_kind() == DeviceKind::kCpu ? " on this CPU" : "", fmt::join(names, ", "));
  }
  if (options.max_batch < 1) {
    Throw(ErrorKind::kInvalidArgument, "max batch {} must be at least 1", options.max_batch);
  }
  if (options.threads < 0) {
    Throw(ErrorKind::kInvalidArgument, "threads {} must be 0 (all cores) or positive",
          options.threads);
  }
  ValidateOptions(options.device, options.backend_options);
  CheckGraph(graph, options.precision);
  return DoCompile(graph, options);
}

std::string Backend::UnsupportedReason(const Graph& graph, const Node& node,
                                       Precision /*precision*/) const {
  const std::size_t rank = graph.values.at(node.inputs.at(0)).shape.size();
  switch (node.op) {
    case OpKind::kConv2D:
    case OpKind::kRelu:
    case OpKind::kAdd:
    case OpKind::kFlatten:
      return {};
    case OpKind::kBatchNorm:
    case OpKind::kGlobalAveragePool:
      return rank == 3 ? "" : "only on [C, H, W] values";
    case OpKind::kMaxPool:
    case OpKind::kAveragePool:
      return std::get<PoolAttrs>(node.attrs).ceil_mode ? "ceil_mode is not implemented" : "";
    case OpKind::kDense:
    case OpKind::kSoftmax:
      return rank == 1 ? "" : "only on rank-1 values";
    default:
      return "not implemented by this backend";
  }
}

void Backend::CheckGraph(const Graph& graph, Precision precision) const {
  for (const Node& node : graph.nodes) {
    const std::string reason = UnsupportedReason(graph, node, precision);
    if (!reason.empty()) {
      Throw(ErrorKind::kUnsupported, "backend '{}' cannot run node '{}' ({}) at {}: {}{}", name(),
            node.name, OpLabel(node), PrecisionName(precision), reason, kSupportHint);
    }
  }
}

bool Backend::Supports(Precision precision) const {
  const auto supported = precisions();
  return std::find(supported.begin(), supported.end(), precision) != supported.end();
}

}  // namespace sonic
