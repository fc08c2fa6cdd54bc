#pragma once

// Internal to the cudnn backend: how a failed CUDA, cuDNN or cuBLAS call becomes an Error.

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace sonic {

// Throw unless the status is success: Error(kResourceExhausted) for the vendor's out-of-memory
// status (cudaErrorMemoryAllocation, CUDNN_STATUS_ALLOC_FAILED, CUBLAS_STATUS_ALLOC_FAILED),
// Error(kBackend) otherwise (ThrowVendorError, backends/backend.h). `call` names the call.
void CheckCuda(cudaError_t status, const char* call);
void CheckCudnn(cudnnStatus_t status, const char* call);
void CheckCublas(cublasStatus_t status, const char* call);

}  // namespace sonic

// The vendor call is named in the error by its source text.
#define SONIC_CUDA(call) ::sonic::CheckCuda((call), #call)
#define SONIC_CUDNN(call) ::sonic::CheckCudnn((call), #call)
#define SONIC_CUBLAS(call) ::sonic::CheckCublas((call), #call)
