#include "service/client.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "service/grpc_runtime.h"
#include "service/proto/grpc_service.grpc.pb.h"

namespace sonic::service {
namespace {

constexpr std::array<std::string_view, kRpcCodeCount> kRpcCodeNames = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

constexpr std::int64_t kFirstBackoffNs = 10'000'000;
constexpr const char* kModelInferMethod = "/inference.GRPCInferenceService/ModelInfer";
constexpr std::size_t kMaxPooledCalls = 256;
// Metadata and statistics calls are not measured; they get a fixed generous deadline.
constexpr auto kControlDeadline = std::chrono::seconds(10);

ErrorKind KindFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return ErrorKind::kUnavailable;
    case grpc::StatusCode::NOT_FOUND:
      return ErrorKind::kNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return ErrorKind::kInvalidArgument;
    default:
      return ErrorKind::kBackend;
  }
}

DurationStat FromProto(const inference::StatisticDuration& stat) {
  return {stat.count(), stat.ns()};
}

}  // namespace

std::string_view RpcCodeName(int code) {
  return code >= 0 && code < kRpcCodeCount ? kRpcCodeNames[static_cast<std::size_t>(code)]
                                           : std::string_view("UNKNOWN_CODE");
}

std::map<std::string, std::uint64_t> ClientCounters::ErrorsByKind() const {
  std::map<std::string, std::uint64_t> kinds;
  for (int code = 1; code < kRpcCodeCount; ++code) {
    if (errors_by_code[static_cast<std::size_t>(code)] > 0) {
      kinds[std::string(RpcCodeName(code))] = errors_by_code[static_cast<std::size_t>(code)];
    }
  }
  return kinds;
}

struct Client::Impl {
  // One inference's state, pooled: its messages keep their buffers from call to call.
  struct Call {
    inference::ModelInferRequest request;
    inference::ModelInferResponse response;
    std::unique_ptr<grpc::ClientContext> context;
    // The blocking path's wire messages: `request` without its tensor bytes, serialized into
    // `header`, then the caller's bytes by reference (see StartInPlace).
    std::string header;
    grpc::ByteBuffer request_buffer;
    grpc::ByteBuffer response_buffer;
    InferCallback done;
    std::chrono::system_clock::time_point deadline;
    std::int64_t deadline_ns = 0;  // the same, on the monotonic clock
    std::int64_t request_bytes = 0;
    int attempts = 0;
  };

  ClientOptions options;
  std::vector<std::unique_ptr<inference::GRPCInferenceService::Stub>> stubs;
  std::vector<std::unique_ptr<grpc::GenericStub>> generic_stubs;  // same channels as `stubs`
  std::atomic<std::uint64_t> next_stub{0};
  std::string authorization;
  std::unique_ptr<LinkShaper> link;  // null: no emulation
  std::unique_ptr<DelayQueue> delays;

  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Call>> pool;

  std::mutex in_flight_mutex;
  std::condition_variable idle;
  std::int64_t in_flight = 0;

  std::atomic<std::uint64_t> requests{0}, ok{0}, retries{0}, bytes_sent{0}, bytes_received{0};
  std::array<std::atomic<std::uint64_t>, kRpcCodeCount> errors{};

  explicit Impl(ClientOptions client_options) : options(std::move(client_options)) {
    PrepareGrpcRuntime();
    if (options.address.empty()) Throw(ErrorKind::kInvalidArgument, "client: no server address");
    if (options.channels < 1) {
      Throw(ErrorKind::kInvalidArgument, "client: channels {} must be at least 1",
            options.channels);
    }
    if (options.max_retries < 0 || options.deadline_ms <= 0) {
      Throw(ErrorKind::kInvalidArgument,
            "client: max retries {} must be >= 0 and deadline {} ms > 0", options.max_retries,
            options.deadline_ms);
    }
    if (!options.token.empty()) authorization = "Bearer " + options.token;
    if (options.link.emulated()) link = std::make_unique<LinkShaper>(options.link);
    delays = std::make_unique<DelayQueue>();
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        options.tls_root_certs_pem.empty()
            ? grpc::InsecureChannelCredentials()
            : grpc::SslCredentials({options.tls_root_certs_pem, "", ""});
    for (int i = 0; i < options.channels; ++i) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(-1);
      args.SetMaxSendMessageSize(-1);
      // A private subchannel pool and a distinct argument give each channel its own TCP
      // connection; otherwise gRPC would share one between channels with equal arguments.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("sonic.channel_index", i);
      if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
      const auto channel = grpc::CreateCustomChannel(options.address, credentials, args);
      stubs.push_back(inference::GRPCInferenceService::NewStub(channel));
      generic_stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
    }
  }

  ~Impl() {
    std::unique_lock lock(in_flight_mutex);
    idle.wait(lock, [this] { return in_flight == 0; });
  }

  void Prepare(grpc::ClientContext* context, std::chrono::system_clock::time_point deadline) const {
    context->set_deadline(deadline);
    if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  }

  template <typename Request, typename Response, typename Method>
  Response Control(Method method, const Request& request, std::string_view what) {
    grpc::ClientContext context;
    Prepare(&context, std::chrono::system_clock::now() + kControlDeadline);
    Response response;
    const grpc::Status status = (stubs[0].get()->*method)(&context, request, &response);
    if (!status.ok()) {
      Throw(KindFor(status.error_code()), "{} at {}: {} ({})", what, options.address,
            status.error_message(), RpcCodeName(status.error_code()));
    }
    return response;
  }

  std::unique_ptr<Call> Acquire() {
    {
      std::lock_guard lock(pool_mutex);
      if (!pool.empty()) {
        auto call = std::move(pool.back());
        pool.pop_back();
        return call;
      }
    }
    return std::make_unique<Call>();
  }

  void Release(Call* call) {
    call->request.Clear();
    call->response.Clear();
    call->request_buffer.Clear();
    call->response_buffer.Clear();
    call->context.reset();
    call->done = nullptr;
    std::unique_ptr<Call> owned(call);
    {
      std::lock_guard lock(pool_mutex);
      if (pool.size() < kMaxPooledCalls) pool.push_back(std::move(owned));
    }
    std::lock_guard lock(in_flight_mutex);
    if (--in_flight == 0) idle.notify_all();
  }

  void Submit(const InferInput& input, InferCallback done) { Send(Start(input, std::move(done))); }

  // A blocking gRPC call on the calling thread, retried as OnReply retries; `done` runs here.
  void SubmitHere(const InferInput& input, InferCallback done) {
    Call* call = StartInPlace(input, std::move(done));
    grpc::Status status;
    for (;;) {
      BeginAttempt(call);
      status = BlockingModelInfer(call);
      const std::optional<std::int64_t> retry_ns = RetryAt(call, status, MonotonicNs());
      if (!retry_ns) break;
      std::this_thread::sleep_for(std::chrono::nanoseconds(*retry_ns - MonotonicNs()));
    }
    Deliver(call, status, CountReceived(call, status));
  }

  // Fills a pooled call's request from `input`, tensor bytes included, and counts it in flight.
  Call* Start(const InferInput& input, InferCallback done) {
    Call* call = StartWithoutTensor(input, std::move(done));
    call->request.add_raw_input_contents()->assign(reinterpret_cast<const char*>(input.data.data()),
                                                   input.data.size_bytes());
    call->request_bytes = static_cast<std::int64_t>(call->request.ByteSizeLong());
    return call;
  }

  // For a call that ends before `input` goes away: its wire message is the serialized request
  // header followed by the raw_input_contents field whose bytes gRPC reads from `input` itself
  // (protobuf parses fields in any order), sparing two copies of the tensor (into the message,
  // and the message into gRPC's buffer): a 602 KB ResNet-50 input costs ~100 us per copy when the
  // inference has just evicted the caches.
  Call* StartInPlace(const InferInput& input, InferCallback done) {
    Call* call = StartWithoutTensor(input, std::move(done));
    call->header.clear();
    {
      google::protobuf::io::StringOutputStream stream(&call->header);
      google::protobuf::io::CodedOutputStream coded(&stream);
      call->request.SerializeToCodedStream(&coded);
      constexpr std::uint32_t kLengthDelimited = 2;  // protobuf wire type of a bytes field
      coded.WriteTag((inference::ModelInferRequest::kRawInputContentsFieldNumber << 3) |
                     kLengthDelimited);
      coded.WriteVarint64(input.data.size_bytes());
    }
    const grpc::Slice slices[] = {
        grpc::Slice(call->header),
        grpc::Slice(input.data.data(), input.data.size_bytes(), grpc::Slice::STATIC_SLICE)};
    call->request_buffer = grpc::ByteBuffer(slices, 2);
    call->request_bytes = static_cast<std::int64_t>(call->header.size() + input.data.size_bytes());
    return call;
  }

  // One attempt of a StartInPlace call, polled on this thread; parses the response into
  // call->response.
  grpc::Status BlockingModelInfer(Call* call) {
    grpc::GenericStub& stub = *generic_stubs[NextChannel()];
    grpc::CompletionQueue queue;
    grpc::Status status;
    const auto reader =
        stub.PrepareUnaryCall(call->context.get(), kModelInferMethod, call->request_buffer, &queue);
    reader->StartCall();
    reader->Finish(&call->response_buffer, &status, call);
    void* tag = nullptr;
    bool ok = false;
    queue.Next(&tag, &ok);
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }
    if (!status.ok()) return status;
    grpc::ProtoBufferReader response_reader(&call->response_buffer);
    if (!response_reader.status().ok() ||
        !call->response.ParseFromZeroCopyStream(&response_reader)) {
      return {grpc::StatusCode::INTERNAL,
              "client: the server's reply is not a valid inference.ModelInferResponse"};
    }
    return status;
  }

  Call* StartWithoutTensor(const InferInput& input, InferCallback done) {
    const std::int64_t elements = NumElements(input.shape);
    if (input.shape.empty() || elements != static_cast<std::int64_t>(input.data.size())) {
      Throw(ErrorKind::kInvalidArgument, "client: input shape {} needs {} values, got {}",
            ShapeToString(input.shape), elements, input.data.size());
    }
    Call* call = Acquire().release();
    inference::ModelInferRequest& request = call->request;
    // assign() into cleared pooled strings reuses their capacity: no allocation in steady state.
    request.mutable_model_name()->assign(input.model);
    request.mutable_model_version()->assign(input.version);
    auto* tensor = request.add_inputs();
    tensor->mutable_name()->assign(input.input_name);
    tensor->mutable_datatype()->assign("FP32");
    for (const std::int64_t dim : input.shape) tensor->add_shape(dim);
    call->done = std::move(done);
    call->attempts = 0;
    call->deadline =
        std::chrono::system_clock::now() + std::chrono::milliseconds(options.deadline_ms);
    call->deadline_ns = MonotonicNs() + options.deadline_ms * 1'000'000;
    {
      std::lock_guard lock(in_flight_mutex);
      ++in_flight;
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    return call;
  }

  // Over the emulated uplink, if any, then onto a channel.
  void Send(Call* call) {
    if (link == nullptr) return Issue(call);
    delays->Schedule(link->UplinkArrivalNs(MonotonicNs(), call->request_bytes),
                     [this, call] { Issue(call); });
  }

  // Round-robin over the channels; `stubs[i]` and `generic_stubs[i]` share channel i.
  std::size_t NextChannel() {
    return next_stub.fetch_add(1, std::memory_order_relaxed) % stubs.size();
  }
  inference::GRPCInferenceService::Stub* NextStub() { return stubs[NextChannel()].get(); }

  void BeginAttempt(Call* call) {
    ++call->attempts;
    call->context = std::make_unique<grpc::ClientContext>();
    Prepare(call->context.get(), call->deadline);
    bytes_sent.fetch_add(static_cast<std::uint64_t>(call->request_bytes),
                         std::memory_order_relaxed);
  }

  void Issue(Call* call) {
    BeginAttempt(call);
    NextStub()->async()->ModelInfer(call->context.get(), &call->request, &call->response,
                                    [this, call](grpc::Status status) { OnReply(call, status); });
  }

  // When to send the call again after `status`, if it is to be retried (counted here).
  std::optional<std::int64_t> RetryAt(Call* call, const grpc::Status& status, std::int64_t now_ns) {
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        call->attempts > options.max_retries) {
      return std::nullopt;
    }
    const std::int64_t retry_ns = now_ns + (kFirstBackoffNs << (call->attempts - 1));
    if (retry_ns >= call->deadline_ns) return std::nullopt;
    retries.fetch_add(1, std::memory_order_relaxed);
    call->response.Clear();
    return retry_ns;
  }

  std::int64_t CountReceived(Call* call, const grpc::Status& status) {
    const std::int64_t response_bytes =
        status.ok() ? static_cast<std::int64_t>(call->response.ByteSizeLong()) : 0;
    bytes_received.fetch_add(static_cast<std::uint64_t>(response_bytes), std::memory_order_relaxed);
    return response_bytes;
  }

  void OnReply(Call* call, const grpc::Status& status) {
    const std::int64_t now_ns = MonotonicNs();
    if (const std::optional<std::int64_t> retry_ns = RetryAt(call, status, now_ns)) {
      delays->Schedule(*retry_ns, [this, call] { Send(call); });
      return;
    }
    const std::int64_t response_bytes = CountReceived(call, status);
    if (link == nullptr) return Deliver(call, status, response_bytes);
    // Error replies are small: they still take half a round trip to come back.
    delays->Schedule(
        link->DownlinkArrivalNs(now_ns, response_bytes),
        [this, call, status, response_bytes] { Deliver(call, status, response_bytes); });
  }

  void Deliver(Call* call, const grpc::Status& status, std::int64_t response_bytes) {
    InferReply reply;
    reply.status = {static_cast<int>(status.error_code()), status.error_message()};
    reply.attempts = call->attempts;
    reply.request_bytes = call->request_bytes;
    reply.response_bytes = response_bytes;
    const inference::ModelInferResponse& response = call->response;
    if (status.ok()) {
      if (response.outputs_size() == 0) {
        reply.status = {static_cast<int>(grpc::StatusCode::INTERNAL),
                        "client: the server's response has no output tensor"};
      } else {
        const auto& tensor = response.outputs(0);
        reply.output_shape = {tensor.shape().data(), static_cast<std::size_t>(tensor.shape_size())};
        // NumElements throws on a negative or overflowing shape: here that is the server's
        // error, reported in the reply rather than thrown on the completion thread.
        std::int64_t elements = 0;
        std::string shape_error;
        try {
          elements =
              NumElements(reply.output_shape, fmt::format("client: output '{}'", tensor.name()));
        } catch (const Error& error) {
          shape_error = error.what();
        }
        if (!shape_error.empty()) {
          reply.status = {static_cast<int>(grpc::StatusCode::INTERNAL), shape_error};
        } else if (tensor.datatype() != "FP32") {
          reply.status = {static_cast<int>(grpc::StatusCode::INTERNAL),
                          fmt::format("client: output '{}' is {}; expected FP32", tensor.name(),
                                      tensor.datatype())};
        } else if (response.raw_output_contents_size() > 0) {
          const std::string& raw = response.raw_output_contents(0);
          if (raw.size() != static_cast<std::size_t>(elements) * sizeof(float) ||
              reinterpret_cast<std::uintptr_t>(raw.data()) % alignof(float) != 0) {
            reply.status = {
                static_cast<int>(grpc::StatusCode::INTERNAL),
                fmt::format("client: output '{}' has {} bytes for shape {}", tensor.name(),
                            raw.size(), ShapeToString(reply.output_shape))};
          } else {
            reply.output = {reinterpret_cast<const float*>(raw.data()),
                            static_cast<std::size_t>(elements)};
          }
        } else {
          reply.output = {tensor.contents().fp32_contents().data(),
                          static_cast<std::size_t>(tensor.contents().fp32_contents_size())};
        }
      }
    }
    if (reply.status.ok()) {
      ok.fetch_add(1, std::memory_order_relaxed);
    } else {
      errors[static_cast<std::size_t>(reply.status.code) % kRpcCodeCount].fetch_add(
          1, std::memory_order_relaxed);
    }
    call->done(reply);
    Release(call);
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

void Client::WaitForReady(std::int64_t timeout_ms, const std::atomic<bool>* cancel) {
  const std::int64_t end_ns = MonotonicNs() + timeout_ms * 1'000'000;
  std::string last_error = "not ready";
  while (true) {
    if (cancel != nullptr && cancel->load()) {
      Throw(ErrorKind::kUnavailable, "interrupted while waiting for the server at {}",
            impl_->options.address);
    }
    grpc::ClientContext context;
    // Attempts of at most 500 ms, so that a cancel is seen within that.
    impl_->Prepare(&context, std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    inference::ServerReadyResponse response;
    const grpc::Status status =
        impl_->stubs[0]->ServerReady(&context, inference::ServerReadyRequest(), &response);
    if (status.ok() && response.ready()) return;
    if (!status.ok()) {
      last_error = fmt::format("{} ({})", status.error_message(), RpcCodeName(status.error_code()));
      if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        Throw(ErrorKind::kInvalidArgument, "server at {}: {}", impl_->options.address, last_error);
      }
    }
    if (MonotonicNs() >= end_ns) {
      Throw(ErrorKind::kUnavailable, "server at {} not ready after {} ms: {}",
            impl_->options.address, timeout_ms, last_error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool Client::ServerLive() {
  using Stub = inference::GRPCInferenceService::Stub;
  return impl_
      ->Control<inference::ServerLiveRequest, inference::ServerLiveResponse>(&Stub::ServerLive, {},
                                                                             "ServerLive")
      .live();
}

bool Client::ServerReady() {
  using Stub = inference::GRPCInferenceService::Stub;
  return impl_
      ->Control<inference::ServerReadyRequest, inference::ServerReadyResponse>(&Stub::ServerReady,
                                                                               {}, "ServerReady")
      .ready();
}

bool Client::ModelReady(const std::string& model, const std::string& version) {
  using Stub = inference::GRPCInferenceService::Stub;
  inference::ModelReadyRequest request;
  request.set_name(model);
  request.set_version(version);
  return impl_
      ->Control<inference::ModelReadyRequest, inference::ModelReadyResponse>(&Stub::ModelReady,
                                                                             request, "ModelReady")
      .ready();
}

RemoteServerMetadata Client::ServerMetadata() {
  using Stub = inference::GRPCInferenceService::Stub;
  const auto response =
      impl_->Control<inference::ServerMetadataRequest, inference::ServerMetadataResponse>(
          &Stub::ServerMetadata, {}, "ServerMetadata");
  return {response.name(),
          response.version(),
          {response.extensions().begin(), response.extensions().end()}};
}

RemoteModelMetadata Client::ModelMetadata(const std::string& model, const std::string& version) {
  using Stub = inference::GRPCInferenceService::Stub;
  inference::ModelMetadataRequest request;
  request.set_name(model);
  request.set_version(version);
  const auto response =
      impl_->Control<inference::ModelMetadataRequest, inference::ModelMetadataResponse>(
          &Stub::ModelMetadata, request, fmt::format("ModelMetadata '{}'", model));
  RemoteModelMetadata metadata{response.name(),
                               response.platform(),
                               {response.versions().begin(), response.versions().end()},
                               {},
                               {}};
  for (const auto& tensor : response.inputs()) {
    metadata.inputs.push_back(
        {tensor.name(), tensor.datatype(), {tensor.shape().begin(), tensor.shape().end()}});
  }
  for (const auto& tensor : response.outputs()) {
    metadata.outputs.push_back(
        {tensor.name(), tensor.datatype(), {tensor.shape().begin(), tensor.shape().end()}});
  }
  return metadata;
}

ModelStatsSnapshot Client::ModelStatistics(const std::string& model) {
  using Stub = inference::GRPCInferenceService::Stub;
  inference::ModelStatisticsRequest request;
  request.set_name(model);
  const auto response =
      impl_->Control<inference::ModelStatisticsRequest, inference::ModelStatisticsResponse>(
          &Stub::ModelStatistics, request, fmt::format("ModelStatistics '{}'", model));
  if (response.model_stats_size() == 0) {
    Throw(ErrorKind::kNotFound, "ModelStatistics at {}: no statistics for model '{}'",
          impl_->options.address, model);
  }
  const auto& from = response.model_stats(0);
  ModelStatsSnapshot stats;
  stats.name = from.name();
  stats.version = from.version();
  stats.last_inference_ms = from.last_inference();
  stats.inference_count = from.inference_count();
  stats.execution_count = from.execution_count();
  const auto& infer = from.inference_stats();
  stats.success = FromProto(infer.success());
  stats.fail = FromProto(infer.fail());
  stats.queue = FromProto(infer.queue());
  stats.compute_input = FromProto(infer.compute_input());
  stats.compute_infer = FromProto(infer.compute_infer());
  stats.compute_output = FromProto(infer.compute_output());
  for (const auto& batch : from.batch_stats()) {
    stats.batch_stats[batch.batch_size()] = {FromProto(batch.compute_input()),
                                             FromProto(batch.compute_infer()),
                                             FromProto(batch.compute_output())};
  }
  return stats;
}

void Client::AsyncInfer(const InferInput& input, InferCallback done) {
  impl_->Submit(input, std::move(done));
}

void Client::BlockingInfer(const InferInput& input, InferCallback done) {
  if (impl_->link == nullptr) return impl_->SubmitHere(input, std::move(done));
  // The emulated link's delays run on its own thread: wait for the callback there.
  std::mutex mutex;
  std::condition_variable finished;
  bool delivered = false;
  impl_->Submit(input, [&](const InferReply& reply) {
    done(reply);
    std::lock_guard lock(mutex);
    delivered = true;
    finished.notify_one();
  });
  std::unique_lock lock(mutex);
  finished.wait(lock, [&] { return delivered; });
}

RpcStatus Client::Infer(const InferInput& input, std::vector<float>* output, Shape* output_shape) {
  RpcStatus status;
  BlockingInfer(input, [&](const InferReply& reply) {
    if (output != nullptr) output->assign(reply.output.begin(), reply.output.end());
    if (output_shape != nullptr) {
      output_shape->assign(reply.output_shape.begin(), reply.output_shape.end());
    }
    status = reply.status;
  });
  return status;
}

ClientCounters Client::counters() const {
  ClientCounters counters;
  counters.requests = impl_->requests.load();
  counters.ok = impl_->ok.load();
  counters.retries = impl_->retries.load();
  counters.bytes_sent = impl_->bytes_sent.load();
  counters.bytes_received = impl_->bytes_received.load();
  for (int code = 0; code < kRpcCodeCount; ++code) {
    counters.errors_by_code[static_cast<std::size_t>(code)] =
        impl_->errors[static_cast<std::size_t>(code)].load();
  }
  return counters;
}

}  // namespace sonic::service
