#include "service/grpc_runtime.h"

#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>

namespace sonic::service {
namespace {

// Locks a then b, then b then a: a lock-order inversion (no real deadlock: one thread), which
// abseil's deadlock detection reports as a potential deadlock and, in its default mode, aborts.
void InvertLockOrder() {
  absl::Mutex a;
  absl::Mutex b;
  {
    absl::MutexLock hold_a(&a);
    absl::MutexLock hold_b(&b);
  }
  {
    absl::MutexLock hold_b(&b);
    absl::MutexLock hold_a(&a);
  }
}

TEST(GrpcRuntimeDeathTest, DebiansAbseilDetectsDeadlocksUntilPrepared) {
  // Debian's abseil is built without NDEBUG, so detection is on: the cost PrepareGrpcRuntime
  // removes. If this ever stops dying, abseil ships with detection off and the call is moot.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(InvertLockOrder(), "deadlock");
  PrepareGrpcRuntime();
  PrepareGrpcRuntime();  // idempotent
  InvertLockOrder();     // no detection, no abort
}

}  // namespace
}  // namespace sonic::service
