#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace sonic::service {

// Process-wide settings of the libraries under gRPC, applied once (thread-safe, idempotent;
// Server and Client call it before they create anything of gRPC's):
// - Debian builds abseil without NDEBUG, so every absl::Mutex lock in gRPC also runs abseil's
//   deadlock detection: a lookup in one process-wide lock graph, under a global spin lock, per
//   acquisition (GraphCycles in a profile of the 1 KB loopback benchmark). A release build of
//   abseil has it off; this turns it off the same way (absl::SetMutexDeadlockDetectionMode).
// - A peer can make the libraries write to stderr at will: protobuf writes a line for every
//   message it fails to parse because a string field holds invalid UTF-8, gRPC one for every
//   failed TLS handshake. Protobuf's messages and gRPC's errors go through a process-wide
//   LogThrottle instead: the first from each place in the libraries' code is written, repeats
//   are counted (SuppressedLibraryLogs). Protobuf's fatal messages, and gRPC's debug and info
//   ones (written only when GRPC_VERBOSITY or GRPC_TRACE ask), are all written.
void PrepareGrpcRuntime();

// Decides which library log messages reach stderr: the first from each source location, so that
// every kind of problem shows once, while repeats are only counted. Memory grows with the number
// of distinct locations in the library's code, not with the number of messages.
// Contract: not thread-safe (the process-wide one is guarded by a mutex).
class LogThrottle {
 public:
  // True for the first message from file:line; false (and counted) for every later one.
  bool Admit(std::string_view file, int line);
  // How many messages were held back, by "file:line"; a location whose only message was admitted
  // is left out.
  std::map<std::string, std::uint64_t> Suppressed() const;

 private:
  std::map<std::string, std::uint64_t> repeats_;  // by "file:line" of each admitted message
};

// The library messages held back since PrepareGrpcRuntime, by "LIBRARY FILE:LINE" (e.g.
// "protobuf google/protobuf/wire_format_lite.cc:618"). Thread-safe.
std::map<std::string, std::uint64_t> SuppressedLibraryLogs();

}  // namespace sonic::service
