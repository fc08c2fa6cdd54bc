#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sonic {

// One request as a client worker hands it to a target (monotonic clock, ns).
struct Request {
  std::int64_t sample_index = 0;  // which input; the target maps it onto its prepared inputs
  std::int32_t worker = 0;        // the submitting client worker, in [0, workers)
  std::int64_t scheduled_ns = 0;  // when the load generator meant to send it
  std::int64_t sent_ns = 0;       // when it was handed to the target
};

// What came back: `error` is empty for success, else what went wrong; `error_message` is only
// valid during the completion callback.
struct Response {
  std::optional<ErrorKind> error;
  std::string_view error_message;
  std::int64_t server_queue_ns = -1;    // -1: unknown (local target)
  std::int64_t server_compute_ns = -1;  // -1: unknown (local target)
  std::int64_t bytes_sent = 0;          // on the wire; 0 for the local target
  std::int64_t bytes_received = 0;
};

// Receives the completion of a submitted request. Called exactly once per Submit, either inside
// Submit on the worker's own thread (a synchronous target) or later from a thread of the target's
// (an asynchronous one: gRPC). Must not throw; the load generator's handler is O(1) and
// allocation-free.
class CompletionHandler {
 public:
  virtual void OnDone(const Request& request, const Response& response) noexcept = 0;

 protected:
  ~CompletionHandler() = default;
};

// The system under test, as LoadGen sees it: submit a request, get a completion callback.
// Contract:
// - Setup(workers) and PrepareWorker(w) are untimed and explicit: compile, load and stage inputs,
//   connect, first runs. Setup runs once per cell on the controlling thread, before any worker
//   starts; PrepareWorker(w) runs on worker w's own thread (pinned to the backend CPUs, so that
//   threads a backend spawns there inherit them) before that worker's first Submit.
// - Submit is the timed region. Worker w calls it only from its own thread, with at most one of its
//   requests in flight; different workers call it concurrently. It reports every failure through
//   the Response (never throws) and must not assume the completion happens inline.
// - Errors in Setup / PrepareWorker are thrown as sonic::Error (or std::bad_alloc); the cell fails.
class Target {
 public:
  virtual ~Target() = default;
  virtual void Setup(int workers) = 0;
  virtual void PrepareWorker(int worker) = 0;
  virtual void Submit(const Request& request, CompletionHandler& on_done) = 0;
  virtual int batch() const = 0;  // samples per request
};

}  // namespace sonic
