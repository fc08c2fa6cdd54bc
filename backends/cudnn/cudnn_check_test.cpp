// How the cudnn backend reports vendor failures: out of memory is kResourceExhausted, as in the
// other backends (backends/backend.h), and the error names the call. Needs no GPU.
#include "backends/cudnn/cudnn_check.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace sonic {
namespace {

template <typename Call>
Error Caught(Call call) {
  try {
    call();
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "no Error thrown";
  return Error(ErrorKind::kInternal, "none");
}

TEST(CudnnCheck, OutOfMemoryIsResourceExhausted) {
  EXPECT_EQ(Caught([] { CheckCuda(cudaErrorMemoryAllocation, "cudaMalloc"); }).kind(),
            ErrorKind::kResourceExhausted);
  EXPECT_EQ(Caught([] { CheckCudnn(CUDNN_STATUS_ALLOC_FAILED, "cudnnCreate"); }).kind(),
            ErrorKind::kResourceExhausted);
  EXPECT_EQ(Caught([] { CheckCublas(CUBLAS_STATUS_ALLOC_FAILED, "cublasCreate"); }).kind(),
            ErrorKind::kResourceExhausted);
}

TEST(CudnnCheck, OtherFailuresAreBackendErrorsNamingTheCall) {
  const Error cuda = Caught([] { SONIC_CUDA(cudaErrorInvalidValue); });
  EXPECT_EQ(cuda.kind(), ErrorKind::kBackend);
  EXPECT_NE(std::string(cuda.what()).find("cudaErrorInvalidValue failed: cudaErrorInvalidValue"),
            std::string::npos)
      << cuda.what();
  EXPECT_EQ(Caught([] { SONIC_CUDNN(CUDNN_STATUS_BAD_PARAM); }).kind(), ErrorKind::kBackend);
  EXPECT_EQ(Caught([] { SONIC_CUBLAS(CUBLAS_STATUS_EXECUTION_FAILED); }).kind(),
            ErrorKind::kBackend);
  EXPECT_NO_THROW(SONIC_CUDA(cudaSuccess));
}

}  // namespace
}  // namespace sonic
