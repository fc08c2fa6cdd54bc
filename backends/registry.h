#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace sonic {

// The one place that knows which backends were compiled in (registry.cpp is the only file built
// with the backends' build flags). Backends are created on demand and are cheap; each call returns
// a new instance. Backend-specific tools are found here too, null when not built.

// Names of the compiled-in backends, in a stable order ("reference" first).
std::vector<std::string> CompiledBackendNames();

// Creates a backend by name; throws Error(kNotFound) naming the compiled-in ones.
std::unique_ptr<Backend> MakeBackend(std::string_view name);

// MakeBackend for a run that needs it now: also throws Error(kInvalidArgument) naming the
// precisions it has when it lacks `precision` (none: any) or when Backend::ValidateOptions
// refuses `device` or `backend_options`, and Error(kUnavailable) with its unavailable_reason()
// when it cannot run here. What every command checks before compiling.
std::unique_ptr<Backend> MakeUsableBackend(std::string_view name,
                                           std::optional<Precision> precision = std::nullopt,
                                           std::string_view device = {},
                                           std::string_view backend_options = {});

// Backend::Compile, with an out-of-memory failure turned into Error(kResourceExhausted) naming
// the model's largest value and the bytes it needs at options.max_batch.
std::unique_ptr<Executable> CompileNamingMemory(const Backend& backend, const Graph& graph,
                                                const CompileOptions& options);

// The OpenCL backend's device and program tools (backends/opencl/opencl_backend.h), or null when
// this build has no OpenCL backend. Static storage; thread-safe.
struct OpenClTools;
const OpenClTools* FindOpenClTools();

}  // namespace sonic
