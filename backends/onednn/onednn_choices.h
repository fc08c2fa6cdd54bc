#pragma once

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"
#include "models/graph.h"

namespace sonic {

// The onednn backend's per-layer choices, shared with bench/micro/onednn_layer_benchmark so that
// what the benchmark marks as the backend's choice is the backend's own. Pure functions of the
// CPU's ISA and the layer; safe from any thread.

// The activation layout used end to end: nChw16c for fp32, and for bf16 where there is no AMX,
// on channel counts that fill the 16-channel blocks (where oneDNN 2.6's direct and Winograd
// AVX-512 kernels are fastest); otherwise `any`, the implementation's choice (nhwc for the
// AMX/VNNI kernels, docs/ARCHITECTURE.md).
dnnl::memory::format_tag OneDnnActivationTag(Precision precision, std::int64_t channels);

// A dense 3x3 stride-1 undilated convolution: the shape oneDNN's Winograd kernels take.
bool IsWinogradShape(const Conv2DAttrs& conv);

// Whether the backend tries Winograd first (unless `conv=direct`): fp32 layers of Winograd shape
// that run in the blocked layout. On a plain input with few channels (jet_cnn's 1-channel image)
// the kernels pad the channels to a block of 16, and the layer ran several times slower than
// direct (docs/PERFORMANCE.md, "Winograd only on blocked layers").
bool OneDnnTriesWinograd(Precision precision, const Conv2DAttrs& conv, std::int64_t in_channels);

}  // namespace sonic
