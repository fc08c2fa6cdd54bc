#pragma once

#include <memory>

#include "backends/backend.h"

namespace sonic {

// oneDNN 2.x (v2 API) on the host CPU, OpenMP runtime. Compiles a graph into oneDNN primitives:
// batch norm folded, convolution and inner product with bias, fused ReLU and the residual Add as a
// sum post-op into the shortcut's buffer, pooling and softmax; weights reordered once into the
// formats the primitives choose, blocked activation layouts end to end (reorders only at the
// network input and output), one user-managed scratchpad. Precisions fp32, bf16 (bf16 weights
// and activations) and int8 (s8 weights with per-channel scales, u8/s8 activations with scales
// calibrated on CompileOptions::calibration), the last two only where the CPU has the ISA for
// them. fp32 3x3 stride-1 convolutions use Winograd where oneDNN has it (CompileOptions::device
// `conv=direct` turns it off); bf16 and int8 use the AMX kernels where the CPU has AMX. Buffers of
// 1 MiB or more are advised as transparent huge pages. CompileOptions::threads sets the OpenMP
// thread count used by Run (0: all cores). `idle=POLICY` in CompileOptions::device states what
// the OpenMP threads must do between requests (onednn_idle.h: default, passive, active or
// spin:<duration>); the process must have been started with that policy's environment, and
// Compile refuses otherwise, naming it. Backend::settings() is the policy in effect ("idle=...").
std::unique_ptr<Backend> MakeOneDnnBackend();

}  // namespace sonic
