#include "backends/registry.h"

#include <fmt/format.h>

#include <functional>
#include <new>
#include <utility>

#include "backends/null/null_backend.h"
#include "backends/reference/reference_backend.h"
#include "core/error.h"
#include "core/tensor.h"
#if SONIC_HAVE_ONEDNN
#include "backends/onednn/onednn_backend.h"
#endif
#if SONIC_HAVE_OPENCL
#include "backends/opencl/opencl_backend.h"
#endif
#if SONIC_HAVE_CUDNN
#include "backends/cudnn/cudnn_backend.h"
#endif

namespace sonic {
namespace {

using Factory = std::function<std::unique_ptr<Backend>()>;

const std::vector<std::pair<std::string, Factory>>& Factories() {
  static const std::vector<std::pair<std::string, Factory>> factories {
    {"reference", [] { return MakeReferenceBackend(); }},
        {"null", [] { return MakeNullBackend(); }},
#if SONIC_HAVE_ONEDNN
        {"onednn", [] { return MakeOneDnnBackend(); }},
#endif
#if SONIC_HAVE_OPENCL
        {"opencl", [] { return MakeOpenClBackend(); }},
#endif
#if SONIC_HAVE_CUDNN
        {"cudnn", [] { return MakeCudnnBackend(); }},
#endif
  };
  return factories;
}

}  // namespace

std::vector<std::string> CompiledBackendNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Factories()) names.push_back(name);
  return names;
}

std::unique_ptr<Backend> MakeBackend(std::string_view name) {
  for (const auto& [known, factory] : Factories()) {
    if (known == name) return factory();
  }
  Throw(ErrorKind::kNotFound, "unknown backend '{}': this build has {}", name,
        fmt::join(CompiledBackendNames(), ", "));
}

std::unique_ptr<Backend> MakeUsableBackend(std::string_view name,
                                           std::optional<Precision> precision,
                                           std::string_view device,
                                           std::string_view backend_options) {
  std::unique_ptr<Backend> backend = MakeBackend(name);
  if (precision && !backend->Supports(*precision)) {
    std::vector<std::string_view> names;
    for (Precision p : backend->precisions()) names.push_back(PrecisionName(p));
    Throw(ErrorKind::kInvalidArgument, "backend '{}' does not support precision {}: it has {}",
          name, PrecisionName(*precision), fmt::join(names, ", "));
  }
  backend->ValidateOptions(device, backend_options);
  if (const std::string reason = backend->unavailable_reason(); !reason.empty()) {
    Throw(ErrorKind::kUnavailable, "backend '{}' is not available here: {}", name, reason);
  }
  return backend;
}

const OpenClTools* FindOpenClTools() {
#if SONIC_HAVE_OPENCL
  static constexpr OpenClTools kTools{&ListOpenClDevices, &SelectOpenClDevice, &BuildOpenClBinary,
                                      &OpenClKernelSource, &OpenClBuildOptions};
  return &kTools;
#else
  return nullptr;
#endif
}

std::unique_ptr<Executable> CompileNamingMemory(const Backend& backend, const Graph& graph,
                                                const CompileOptions& options) {
  try {
    return backend.Compile(graph, options);
  } catch (const std::bad_alloc&) {
    ValueId largest = graph.input;
    for (const Node& node : graph.nodes) {
      if (NumElements(graph.values[node.output].shape) > NumElements(graph.values[largest].shape)) {
        largest = node.output;
      }
    }
    const Value& value = graph.values[largest];
    const std::string what = fmt::format("value '{}'", value.name);
    const std::int64_t bytes = CheckedMultiply(
        CheckedMultiply(options.max_batch, NumElements(value.shape), what), sizeof(float), what);
    Throw(ErrorKind::kResourceExhausted,
          "out of memory compiling model '{}' on backend '{}' at batch {}: its largest value, "
          "'{}' of {} x {} FP32, is {} bytes ({:.1f} GiB)",
          graph.name, backend.name(), options.max_batch, value.name, options.max_batch,
          ShapeToString(value.shape), bytes, static_cast<double>(bytes) / (1 << 30));
  }
}

}  // namespace sonic
