#pragma once

#include <memory>

#include "backends/backend.h"

namespace sonic {

// A backend whose Run returns at once without touching the output: it measures the load
// generator's and the service's own ceiling. Accepts any graph and every precision.
std::unique_ptr<Backend> MakeNullBackend();

}  // namespace sonic
