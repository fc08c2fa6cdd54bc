#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/loadgen/target.h"
#include "results/cell.h"
#include "service/client.h"
#include "service/statistics.h"

namespace sonic {

struct RemoteTargetOptions {
  std::string model;  // the served model's name
  int batch = 1;
  // Server address, channels, deadline, retries on UNAVAILABLE, TLS, token and emulated link.
  service::ClientOptions client;
  std::int64_t connect_timeout_ms = 30'000;  // Setup waits this long for the server to be ready
  int staged_batches = 4;  // distinct input batches staged before timing (as LocalTarget)
};

// The service as the system under test: requests go through the KServe v2 client to any server
// speaking the protocol (ours, Triton, KServe). Setup connects, checks the model's input shape,
// stages the inputs and takes the server's statistics; PrepareWorker does one untimed round trip.
// Submit copies the staged batch into a pooled request; without an emulated link it waits for the
// reply in the gRPC call on the worker's thread and completes inline, with a link it returns and
// the completion arrives on the link-emulation thread. Per-request server times are not in the
// protocol (server_queue_ns and server_compute_ns stay -1); the per-cell server figures are
// ServerStatisticsDelta(). Response::status is the ErrorKind + 1 of the gRPC code (UNAVAILABLE and
// DEADLINE_EXCEEDED: kUnavailable, NOT_FOUND, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, the rest
// kBackend); the gRPC codes themselves are counted in client_counters().
// Contract: as Target; the statistics accessors are thread-safe and meant for after the cell.
class RemoteTarget final : public Target {
 public:
  // `input_shape` is the per-sample shape of the model's input (what `inputs` produces).
  RemoteTarget(RemoteTargetOptions options, Shape input_shape,
               std::shared_ptr<const InputSource> inputs);
  ~RemoteTarget() override;

  void Setup(int workers) override;
  void PrepareWorker(int worker) override;
  void Submit(const Request& request, CompletionHandler& on_done) override;
  int batch() const override { return options_.batch; }

  // The server's statistics for the model since Setup, warm-up included (queue, compute,
  // executed batch sizes), as a cell stores them. Throws Error(kUnsupported) when the server
  // does not serve Triton's statistics extension.
  ServerStats ServerStatisticsDelta();
  service::ClientCounters client_counters() const;
  // The first failed request's gRPC code and message ("UNAVAILABLE: ..."); empty when none failed.
  std::string first_error() const;

 private:
  RemoteTargetOptions options_;
  Shape input_shape_;  // per sample
  Shape wire_shape_;   // batch first: what every request carries
  std::shared_ptr<const InputSource> inputs_;
  // Before client_: completions that write them end before the client is destroyed.
  mutable std::mutex error_mutex_;
  std::string first_error_;  // guarded by error_mutex_
  std::unique_ptr<service::Client> client_;
  std::vector<std::vector<float>> staged_;
  service::ModelStatsSnapshot stats_before_;
  bool have_stats_ = false;
};

}  // namespace sonic
