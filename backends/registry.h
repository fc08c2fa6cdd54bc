#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace sonic {

// The one place that knows which backends were compiled in. Backends are created on demand and
// are cheap; each call returns a new instance.

// Names of the compiled-in backends, in a stable order ("reference" first).
std::vector<std::string> CompiledBackendNames();

// Creates a backend by name; throws Error(kNotFound) naming the compiled-in ones.
std::unique_ptr<Backend> MakeBackend(std::string_view name);

}  // namespace sonic
