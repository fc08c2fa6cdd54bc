#include "service/grpc_runtime.h"

#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>

#include "service/proto/grpc_service.pb.h"

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

TEST(LogThrottle, AdmitsTheFirstMessageFromEachPlaceAndCountsTheRest) {
  LogThrottle throttle;
  EXPECT_TRUE(throttle.Admit("a.cc", 10));
  EXPECT_TRUE(throttle.Admit("a.cc", 20));
  EXPECT_TRUE(throttle.Admit("b.cc", 10));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(throttle.Admit("a.cc", 10));
  EXPECT_FALSE(throttle.Admit("b.cc", 10));
  EXPECT_EQ(throttle.Suppressed(),
            (std::map<std::string, std::uint64_t>{{"a.cc:10", 5}, {"b.cc:10", 1}}));
}

// After PrepareGrpcRuntime, protobuf's complaint about invalid UTF-8 (one per message parsed) is
// counted instead of written after its first time.
TEST(LogThrottle, HoldsBackProtobufsRepeatedMessages) {
  PrepareGrpcRuntime();
  inference::ModelInferRequest request;
  const std::string invalid_utf8_name = "\x0a\x02\xff\xfe";  // field 1, model_name
  EXPECT_FALSE(request.ParseFromString(invalid_utf8_name));  // written, or held back if seen
  auto held_back = [] {
    std::uint64_t total = 0;
    for (const auto& [location, count] : SuppressedLibraryLogs()) {
      if (location.starts_with("protobuf ")) total += count;
    }
    return total;
  };
  const std::uint64_t before = held_back();
  constexpr int kMessages = 20;
  for (int i = 0; i < kMessages; ++i) EXPECT_FALSE(request.ParseFromString(invalid_utf8_name));
  EXPECT_EQ(held_back() - before, static_cast<std::uint64_t>(kMessages));
}

}  // namespace
}  // namespace sonic::service
