#include "bench/loadgen/remote_target.h"

#include <fmt/format.h>

#include <limits>
#include <mutex>

#include "core/clock.h"
#include "core/error.h"
#include "core/parse.h"

namespace sonic {
namespace {

// gRPC status codes (stable numbers of the protocol) as the ErrorKind a cell records.
ErrorKind KindForRpcCode(int code) {
  switch (code) {
    case 3:  // INVALID_ARGUMENT
      return ErrorKind::kInvalidArgument;
    case 4:   // DEADLINE_EXCEEDED
    case 14:  // UNAVAILABLE
      return ErrorKind::kUnavailable;
    case 5:  // NOT_FOUND
      return ErrorKind::kNotFound;
    case 8:  // RESOURCE_EXHAUSTED
      return ErrorKind::kResourceExhausted;
    default:
      return ErrorKind::kBackend;
  }
}

}  // namespace

std::string_view ServerPolicyName(ServerPolicy policy) {
  return policy == ServerPolicy::kLeastLoaded ? "least_loaded" : "round_robin";
}

ServerPolicy ParseServerPolicy(std::string_view name) {
  if (name == "round_robin") return ServerPolicy::kRoundRobin;
  if (name == "least_loaded") return ServerPolicy::kLeastLoaded;
  Throw(ErrorKind::kInvalidArgument,
        "unknown server policy '{}': expected round_robin or least_loaded", name);
}

void ValidateServerAddress(std::string_view address) {
  auto bad = [&](std::string_view why) {
    Throw(ErrorKind::kInvalidArgument,
          "server '{}': {}; expected host:port, [ipv6]:port (port 1-65535) or unix:PATH", address,
          why);
  };
  if (address.starts_with("unix:")) {
    if (address.size() == 5) bad("no socket path");
    return;
  }
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) bad("no port");
  std::string_view host = address.substr(0, colon);
  if (host.starts_with('[')) {
    if (!host.ends_with(']') || host.size() < 3) bad("unbalanced brackets around the IPv6 host");
    host = host.substr(1, host.size() - 2);
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      bad("not an IPv6 address inside the brackets");
    }
  } else if (host.empty()) {
    bad("no host");
  } else if (host.find(':') != std::string_view::npos) {
    bad("an IPv6 host needs brackets");
  } else if (host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789.-_") != std::string_view::npos) {
    bad("not a host name or address");
  }
  try {
    ParseIntInRange(address.substr(colon + 1), "port", 1, 65535);
  } catch (const Error& error) {
    bad(error.what());
  }
}

// One server: its client, what the cell's requests to it did, and its statistics at Setup.
// The share is written by completion callbacks on gRPC threads, hence the mutex (held for a
// histogram record); in_flight is read by Pick on the workers' threads.
struct RemoteTarget::Server {
  std::unique_ptr<service::Client> client;
  std::atomic<std::int64_t> in_flight{0};
  mutable std::mutex mutex;
  ServerShare share;
  service::ModelStatsSnapshot stats_before;
  bool have_stats = false;
};

RemoteTarget::RemoteTarget(RemoteTargetOptions options, Shape input_shape,
                           std::shared_ptr<const InputSource> inputs)
    : options_(std::move(options)),
      input_shape_(std::move(input_shape)),
      inputs_(std::move(inputs)) {
  CheckStagingOptions(options_.batch, options_.staged_batches);
  if (options_.model.empty()) Throw(ErrorKind::kInvalidArgument, "remote target: no model name");
  if (options_.servers.empty()) options_.servers.push_back(options_.client.address);
}

RemoteTarget::~RemoteTarget() = default;

void RemoteTarget::Setup(int workers) {
  Shape expected{-1};
  expected.insert(expected.end(), input_shape_.begin(), input_shape_.end());
  servers_.clear();
  for (const std::string& address : options_.servers) {
    auto server = std::make_unique<Server>();
    service::ClientOptions client_options = options_.client;
    client_options.address = address;
    server->client = std::make_unique<service::Client>(client_options);
    server->share.address = address;
    server->client->WaitForReady(options_.connect_timeout_ms, options_.cancel);
    const service::RemoteModelMetadata metadata = server->client->ModelMetadata(options_.model);
    if (metadata.inputs.size() != 1 || metadata.inputs[0].shape.size() != expected.size()) {
      Throw(ErrorKind::kInvalidArgument,
            "server {}: model '{}' does not take one input of shape {}", address, options_.model,
            ShapeToString(expected));
    }
    for (std::size_t i = 1; i < expected.size(); ++i) {
      if (metadata.inputs[0].shape[i] != expected[i]) {
        Throw(ErrorKind::kInvalidArgument,
              "server {}: model '{}' input '{}' has shape {}; expected {}", address, options_.model,
              metadata.inputs[0].name, ShapeToString(metadata.inputs[0].shape),
              ShapeToString(expected));
      }
    }
    servers_.push_back(std::move(server));
  }
  wire_shape_ = {options_.batch};
  wire_shape_.insert(wire_shape_.end(), input_shape_.begin(), input_shape_.end());
  const auto sample_floats = static_cast<std::size_t>(NumElements(input_shape_));
  staged_ = StageInputBatches(*inputs_, sample_floats, options_.batch, options_.staged_batches);
  // A server without Triton's statistics extension is still a valid target.
  for (const auto& server : servers_) {
    try {
      server->stats_before = server->client->ModelStatistics(options_.model);
      server->have_stats = true;
    } catch (const Error&) {
      server->have_stats = false;
    }
  }
  (void)workers;  // the clients are shared: workers need no state of their own
}

void RemoteTarget::PrepareWorker(int worker) {
  // One untimed round trip per worker and server opens the connections and warms the servers.
  const service::InferInput input{options_.model, "", "input", wire_shape_, staged_[0]};
  for (const auto& server : servers_) {
    const service::RpcStatus status = server->client->Infer(input, nullptr);
    if (!status.ok()) {
      Throw(KindForRpcCode(status.code),
            "worker {}: first request to model '{}' at {} failed: {} ({})", worker, options_.model,
            server->share.address, status.message, service::RpcCodeName(status.code));
    }
  }
}

RemoteTarget::Server& RemoteTarget::Pick() {
  const std::uint64_t turn = next_.fetch_add(1, std::memory_order_relaxed);
  const std::size_t n = servers_.size();
  if (options_.policy == ServerPolicy::kRoundRobin || n == 1) return *servers_[turn % n];
  // Fewest in flight; scanning from a rotating start spreads ties evenly.
  std::size_t best = turn % n;
  std::int64_t best_load = std::numeric_limits<std::int64_t>::max();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (turn + k) % n;
    const std::int64_t load = servers_[i]->in_flight.load(std::memory_order_relaxed);
    if (load < best_load) {
      best = i;
      best_load = load;
    }
  }
  return *servers_[best];
}

void RemoteTarget::Submit(const Request& request, CompletionHandler& on_done) {
  const service::InferInput input{
      options_.model, "", "input", wire_shape_,
      staged_[static_cast<std::size_t>(request.sample_index) % staged_.size()]};
  Server& server = Pick();
  server.in_flight.fetch_add(1, std::memory_order_relaxed);
  auto finish = [&server, &on_done, request](const Response& response) {
    const std::int64_t now_ns = MonotonicNs();
    server.in_flight.fetch_sub(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(server.mutex);
      ++server.share.requests;
      server.share.bytes_sent += response.bytes_sent;
      server.share.bytes_received += response.bytes_received;
      if (!response.error) {
        server.share.latency.Record(now_ns - request.sent_ns);
      } else {
        ++server.share.errors;
      }
    }
    on_done.OnDone(request, response);
  };
  auto complete = [this, finish](const service::InferReply& reply) {
    Response response;
    if (!reply.status.ok()) {
      response.error = KindForRpcCode(reply.status.code);
      response.error_message = reply.status.message;
      std::lock_guard lock(error_mutex_);
      if (first_error_.empty()) {
        first_error_ =
            fmt::format("{}: {}", service::RpcCodeName(reply.status.code), reply.status.message);
      }
    }
    response.bytes_sent = reply.request_bytes;
    response.bytes_received = reply.response_bytes;
    finish(response);
  };
  try {
    // A worker has one request in flight: without an emulated link it waits in the gRPC call
    // itself, sparing the hand-off of every reply from a gRPC thread to the worker.
    if (options_.client.link.emulated()) {
      server.client->AsyncInfer(input, std::move(complete));
    } else {
      server.client->BlockingInfer(input, std::move(complete));
    }
  } catch (const Error& error) {
    Response response;
    response.error = error.kind();
    response.error_message = error.what();
    finish(response);
  }
}

ServerStats RemoteTarget::ServerStatisticsDelta() {
  ServerStats stats;
  for (const auto& server : servers_) {
    if (!server->have_stats) {
      Throw(ErrorKind::kUnsupported, "server at {} does not serve model statistics",
            server->share.address);
    }
    const service::ModelStatsSnapshot delta =
        service::Delta(server->stats_before, server->client->ModelStatistics(options_.model));
    stats.request_count += static_cast<std::int64_t>(delta.success.count);
    stats.inference_count += static_cast<std::int64_t>(delta.inference_count);
    stats.execution_count += static_cast<std::int64_t>(delta.execution_count);
    stats.queue_ns += static_cast<std::int64_t>(delta.queue.ns);
    stats.compute_input_ns += static_cast<std::int64_t>(delta.compute_input.ns);
    stats.compute_infer_ns += static_cast<std::int64_t>(delta.compute_infer.ns);
    stats.compute_output_ns += static_cast<std::int64_t>(delta.compute_output.ns);
    for (const auto& [batch, batch_stats] : delta.batch_stats) {
      stats.executed_batch_sizes[static_cast<std::int32_t>(batch)] +=
          static_cast<std::int64_t>(batch_stats.compute_infer.count);
    }
  }
  return stats;
}

std::string RemoteTarget::first_error() const {
  std::lock_guard lock(error_mutex_);
  return first_error_;
}

std::vector<ServerShare> RemoteTarget::ServerShares() const {
  std::vector<ServerShare> shares;
  for (const auto& server : servers_) {
    std::lock_guard lock(server->mutex);
    shares.push_back(server->share);
  }
  return shares;
}

service::ClientCounters RemoteTarget::client_counters() const {
  service::ClientCounters total;
  for (const auto& server : servers_) {
    const service::ClientCounters c = server->client->counters();
    total.requests += c.requests;
    total.ok += c.ok;
    for (std::size_t i = 0; i < c.errors_by_code.size(); ++i) {
      total.errors_by_code[i] += c.errors_by_code[i];
    }
    total.retries += c.retries;
    total.bytes_sent += c.bytes_sent;
    total.bytes_received += c.bytes_received;
  }
  return total;
}

}  // namespace sonic
