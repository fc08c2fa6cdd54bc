#pragma once

namespace sonic::service {

// Process-wide settings of the libraries under gRPC, applied once (thread-safe, idempotent;
// Server and Client call it before they create anything of gRPC's).
// Debian builds abseil without NDEBUG, so every absl::Mutex lock in gRPC also runs abseil's
// deadlock detection: a lookup in one process-wide lock graph, under a global spin lock, per
// acquisition (GraphCycles in a profile of the 1 KB loopback benchmark). A release build of
// abseil has it off; this turns it off the same way (absl::SetMutexDeadlockDetectionMode).
void PrepareGrpcRuntime();

}  // namespace sonic::service
