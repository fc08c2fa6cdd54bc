#pragma once

#include <memory>

#include "backends/backend.h"

namespace sonic {

// Plain C++ loops in float32 with double accumulation where it matters: the correctness oracle
// every other backend is checked against. Parallel over batch and output channels with OpenMP
// (CompileOptions::threads), so that ResNet-50 takes seconds, not minutes. Precision fp32 only.
std::unique_ptr<Backend> MakeReferenceBackend();

}  // namespace sonic
