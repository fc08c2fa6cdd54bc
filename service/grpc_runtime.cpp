#include "service/grpc_runtime.h"

#include <absl/synchronization/mutex.h>

#include <mutex>

namespace sonic::service {

void PrepareGrpcRuntime() {
  static std::once_flag once;
  std::call_once(once, [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
}

}  // namespace sonic::service
