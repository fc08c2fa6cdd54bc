#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "core/input_source.h"
#include "core/tensor.h"
#include "models/graph.h"

namespace sonic {

// One request as a client worker hands it to a target (monotonic clock, ns).
struct Request {
  std::int64_t sample_index = 0;  // which input; the target maps it onto its prepared inputs
  std::int32_t worker = 0;        // the submitting client worker, in [0, workers)
  std::int64_t scheduled_ns = 0;  // when the load generator meant to send it
  std::int64_t sent_ns = 0;       // when it was handed to the target
};

// What came back. `status` is 0 for success, otherwise the ErrorKind value + 1 (as in
// RequestRecord); `error_message` is only valid during the completion callback.
struct Response {
  std::int32_t status = 0;
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

struct LocalTargetOptions {
  int batch = 1;
  Precision precision = Precision::kFp32;
  int threads = 0;     // backend threads per Executable (CompileOptions::threads)
  std::string device;  // backend device selector (CompileOptions::device); empty: the default
  // Distinct input batches staged per target before timing; request i uses batch i mod this, so
  // the timed region never copies or generates inputs.
  int staged_batches = 4;
};

// The backend in the client's own process: one Executable per client worker, compiled on that
// worker's thread in PrepareWorker; Submit runs it synchronously and completes inline. Inputs are
// staged from `inputs` in Setup, shared read-only by all workers; each worker owns its outputs.
class LocalTarget final : public Target {
 public:
  LocalTarget(std::shared_ptr<const Backend> backend, Graph graph, LocalTargetOptions options,
              std::shared_ptr<const InputSource> inputs);
  ~LocalTarget() override;

  void Setup(int workers) override;
  void PrepareWorker(int worker) override;
  void Submit(const Request& request, CompletionHandler& on_done) override;
  int batch() const override { return options_.batch; }

 private:
  struct Worker;

  std::shared_ptr<const Backend> backend_;
  Graph graph_;
  LocalTargetOptions options_;
  std::shared_ptr<const InputSource> inputs_;
  std::size_t input_floats_ = 0;  // per request: batch x per-sample elements
  std::size_t output_floats_ = 0;
  std::vector<std::vector<float>> staged_;  // staged_batches input buffers
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace sonic
