#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/target.h"
#include "core/input_source.h"
#include "core/tensor.h"
#include "results/cell.h"
#include "service/client.h"
#include "service/statistics.h"

namespace sonic {

// How requests are spread over several servers.
enum class ServerPolicy {
  kRoundRobin,   // server i mod n for the i-th request
  kLeastLoaded,  // the server with the fewest requests in flight from this client (ties rotate)
};
std::string_view ServerPolicyName(ServerPolicy policy);  // "round_robin" | "least_loaded"
// Throws Error(kInvalidArgument) naming the accepted names.
ServerPolicy ParseServerPolicy(std::string_view name);

// Checks a server address as gRPC takes it: host:port with a hostname, an IPv4 address or a
// bracketed IPv6 address ([::1]:8001) and a port from 1 to 65535, or unix:PATH. Throws
// Error(kInvalidArgument) naming the address and the accepted forms. Pure.
void ValidateServerAddress(std::string_view address);

struct RemoteTargetOptions {
  std::string model;  // the served model's name
  int batch = 1;
  // Channels, deadline, retries on UNAVAILABLE, TLS, token and emulated link, and the server
  // address when `servers` is empty.
  service::ClientOptions client;
  // Several servers serving the same model ("host:port" each), one client per server; empty:
  // client.address alone.
  std::vector<std::string> servers;
  ServerPolicy policy = ServerPolicy::kRoundRobin;
  std::int64_t connect_timeout_ms = 30'000;   // Setup waits this long for the server to be ready
  const std::atomic<bool>* cancel = nullptr;  // ends that wait early when true (a sweep's ^C)
  int staged_batches = 4;  // distinct input batches staged before timing (as LocalTarget)
};

// The service as the system under test: requests go through the KServe v2 client to any server
// speaking the protocol (ours, Triton, KServe), spread over several servers by `policy` when
// given several. Setup connects to each, checks the model's input shape,
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

  // The servers' statistics for the model since Setup, warm-up included (queue, compute,
  // executed batch sizes), summed over the servers, as a cell stores them. Throws
  // Error(kUnsupported) when a server does not serve Triton's statistics extension.
  ServerStats ServerStatisticsDelta();
  // Each server's share of the requests since Setup (warm-up included), in the order given.
  std::vector<ServerShare> ServerShares() const;
  service::ClientCounters client_counters() const;  // summed over the servers
  // The first failed request's gRPC code and message ("UNAVAILABLE: ..."); empty when none failed.
  std::string first_error() const;

 private:
  struct Server;
  Server& Pick();

  RemoteTargetOptions options_;
  Shape input_shape_;  // per sample
  Shape wire_shape_;   // batch first: what every request carries
  std::shared_ptr<const InputSource> inputs_;
  // Before servers_: completions that write them end before the clients are destroyed.
  mutable std::mutex error_mutex_;
  std::string first_error_;  // guarded by error_mutex_
  std::vector<std::unique_ptr<Server>> servers_;
  std::atomic<std::uint64_t> next_{0};  // round-robin position / least-loaded tie rotation
  std::vector<std::vector<float>> staged_;
};

}  // namespace sonic
