#pragma once

#include <memory>

#include "backends/backend.h"

namespace sonic {

// NVIDIA GPUs through cuDNN 9's convolution API, cuBLAS for dense layers and CUDA graphs.
// Precisions: fp32 (TF32 off), tf32, fp16 and bf16 (NHWC, tensor cores). CompileOptions::device
// selects the GPU ("0", "cuda:1"); empty means device 0. Each Executable owns its stream, cuDNN
// and cuBLAS handles, so several instances share one GPU without sharing state.
std::unique_ptr<Backend> MakeCudnnBackend();

}  // namespace sonic
