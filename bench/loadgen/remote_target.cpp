#include "bench/loadgen/remote_target.h"

#include <fmt/format.h>

#include "core/error.h"

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

RemoteTarget::RemoteTarget(RemoteTargetOptions options, Shape input_shape,
                           std::shared_ptr<const InputSource> inputs)
    : options_(std::move(options)),
      input_shape_(std::move(input_shape)),
      inputs_(std::move(inputs)) {
  if (options_.batch < 1) {
    Throw(ErrorKind::kInvalidArgument, "batch must be at least 1, got {}", options_.batch);
  }
  if (options_.staged_batches < 1) {
    Throw(ErrorKind::kInvalidArgument, "staged_batches must be at least 1, got {}",
          options_.staged_batches);
  }
  if (options_.model.empty()) Throw(ErrorKind::kInvalidArgument, "remote target: no model name");
}

RemoteTarget::~RemoteTarget() = default;

void RemoteTarget::Setup(int workers) {
  client_ = std::make_unique<service::Client>(options_.client);
  client_->WaitForReady(options_.connect_timeout_ms);
  const service::RemoteModelMetadata metadata = client_->ModelMetadata(options_.model);
  Shape expected{-1};
  expected.insert(expected.end(), input_shape_.begin(), input_shape_.end());
  if (metadata.inputs.size() != 1 || metadata.inputs[0].shape.size() != expected.size()) {
    Throw(ErrorKind::kInvalidArgument, "server model '{}' does not take one input of shape {}",
          options_.model, ShapeToString(expected));
  }
  for (std::size_t i = 1; i < expected.size(); ++i) {
    if (metadata.inputs[0].shape[i] != expected[i]) {
      Throw(ErrorKind::kInvalidArgument, "server model '{}' input '{}' has shape {}; expected {}",
            options_.model, metadata.inputs[0].name, ShapeToString(metadata.inputs[0].shape),
            ShapeToString(expected));
    }
  }
  wire_shape_ = {options_.batch};
  wire_shape_.insert(wire_shape_.end(), input_shape_.begin(), input_shape_.end());
  const auto sample_floats = static_cast<std::size_t>(NumElements(input_shape_));
  staged_.assign(static_cast<std::size_t>(options_.staged_batches),
                 std::vector<float>(sample_floats * static_cast<std::size_t>(options_.batch)));
  std::int64_t index = 0;
  for (std::vector<float>& buffer : staged_) {
    for (int s = 0; s < options_.batch; ++s, ++index) {
      inputs_->Sample(index, std::span<float>(buffer).subspan(s * sample_floats, sample_floats));
    }
  }
  // A server without Triton's statistics extension is still a valid target.
  try {
    stats_before_ = client_->ModelStatistics(options_.model);
    have_stats_ = true;
  } catch (const Error&) {
    have_stats_ = false;
  }
  (void)workers;  // the client is shared: workers need no state of their own
}

void RemoteTarget::PrepareWorker(int worker) {
  // One untimed round trip per worker opens the connections and warms the server's pools.
  const service::InferInput input{options_.model, "", "input", wire_shape_, staged_[0]};
  const service::RpcStatus status = client_->Infer(input, nullptr);
  if (!status.ok()) {
    Throw(KindForRpcCode(status.code), "worker {}: first request to model '{}' failed: {} ({})",
          worker, options_.model, status.message, service::RpcCodeName(status.code));
  }
}

void RemoteTarget::Submit(const Request& request, CompletionHandler& on_done) {
  const service::InferInput input{
      options_.model, "", "input", wire_shape_,
      staged_[static_cast<std::size_t>(request.sample_index) % staged_.size()]};
  auto complete = [this, &on_done, request](const service::InferReply& reply) {
    Response response;
    if (!reply.status.ok()) {
      response.status = static_cast<std::int32_t>(KindForRpcCode(reply.status.code)) + 1;
      response.error_message = reply.status.message;
      std::lock_guard lock(error_mutex_);
      if (first_error_.empty()) {
        first_error_ =
            fmt::format("{}: {}", service::RpcCodeName(reply.status.code), reply.status.message);
      }
    }
    response.bytes_sent = reply.request_bytes;
    response.bytes_received = reply.response_bytes;
    on_done.OnDone(request, response);
  };
  try {
    // A worker has one request in flight: without an emulated link it waits in the gRPC call
    // itself, sparing the hand-off of every reply from a gRPC thread to the worker.
    if (options_.client.link.emulated()) {
      client_->AsyncInfer(input, std::move(complete));
    } else {
      client_->BlockingInfer(input, std::move(complete));
    }
  } catch (const Error& error) {
    Response response;
    response.status = static_cast<std::int32_t>(error.kind()) + 1;
    response.error_message = error.what();
    on_done.OnDone(request, response);
  }
}

ServerStats RemoteTarget::ServerStatisticsDelta() {
  if (!have_stats_) {
    Throw(ErrorKind::kUnsupported, "server at {} does not serve model statistics",
          options_.client.address);
  }
  const service::ModelStatsSnapshot delta =
      service::Delta(stats_before_, client_->ModelStatistics(options_.model));
  ServerStats stats;
  stats.request_count = static_cast<std::int64_t>(delta.success.count);
  stats.inference_count = static_cast<std::int64_t>(delta.inference_count);
  stats.execution_count = static_cast<std::int64_t>(delta.execution_count);
  stats.queue_ns = static_cast<std::int64_t>(delta.queue.ns);
  stats.compute_input_ns = static_cast<std::int64_t>(delta.compute_input.ns);
  stats.compute_infer_ns = static_cast<std::int64_t>(delta.compute_infer.ns);
  stats.compute_output_ns = static_cast<std::int64_t>(delta.compute_output.ns);
  for (const auto& [batch, batch_stats] : delta.batch_stats) {
    stats.executed_batch_sizes[static_cast<std::int32_t>(batch)] =
        static_cast<std::int64_t>(batch_stats.compute_infer.count);
  }
  return stats;
}

std::string RemoteTarget::first_error() const {
  std::lock_guard lock(error_mutex_);
  return first_error_;
}

service::ClientCounters RemoteTarget::client_counters() const {
  return client_ != nullptr ? client_->counters() : service::ClientCounters{};
}

}  // namespace sonic
