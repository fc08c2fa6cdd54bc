#include "service/server.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>

#include "core/clock.h"
#include "core/error.h"
#include "core/version.h"
#include "service/grpc_runtime.h"
#include "service/proto/grpc_service.grpc.pb.h"
#include "service/tls.h"

namespace sonic::service {
namespace {

// ModelInfer is served raw (ByteBuffer in and out) so that the server parses and serializes
// itself: a malformed message becomes INVALID_ARGUMENT (gRPC's own parser says INTERNAL), and
// the request and response messages come from a pool instead of being allocated per call.
using ServiceBase = inference::GRPCInferenceService::WithRawCallbackMethod_ModelInfer<
    inference::GRPCInferenceService::CallbackService>;

// How much a request may exceed its tensor bytes (names, shape, framing) before gRPC rejects it as
// oversized with RESOURCE_EXHAUSTED.
constexpr int kMessageSlackBytes = 64 * 1024;
// Pooled message pairs kept for reuse; beyond that, returned ones are freed.
constexpr std::size_t kMaxPooledMessages = 256;

// Compares a presented credential with the expected one in time that does not depend on where
// they differ, so response timing does not leak the token byte by byte.
bool SameSecret(std::string_view presented, std::string_view expected) {
  unsigned char difference = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference |=
        static_cast<unsigned char>(expected[i] ^ (i < presented.size() ? presented[i] : 0));
  }
  return difference == 0;
}

struct InferMessages {
  inference::ModelInferRequest request;
  inference::ModelInferResponse response;
};

// A free list of request/response pairs. Clear() keeps the capacity of their repeated bytes
// fields, so a steady stream of same-sized requests parses and answers without allocating tensor
// buffers.
class MessagePool {
 public:
  std::unique_ptr<InferMessages> Acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto messages = std::move(free_.back());
        free_.pop_back();
        return messages;
      }
    }
    return std::make_unique<InferMessages>();
  }
  void Release(std::unique_ptr<InferMessages> messages) {
    messages->request.Clear();
    messages->response.Clear();
    std::lock_guard lock(mutex_);
    if (free_.size() < kMaxPooledMessages) free_.push_back(std::move(messages));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<InferMessages>> free_;
};

}  // namespace

struct Server::Impl final : public ServiceBase {
  ServerOptions options;
  std::vector<std::unique_ptr<ServedModel>> models;
  std::map<std::string, ServedModel*, std::less<>> by_name;
  std::string expected_authorization;  // "Bearer <token>", or empty
  MessagePool pool;
  SharedMemoryRegistry shared_memory;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::atomic<bool> shutting_down{false};
  std::mutex shutdown_mutex;
  bool shut_down = false;
  std::unique_ptr<MetricsExporter> metrics;  // after `models`, whose statistics it reads

  // What a scrape reports: called on the exporter's threads.
  std::vector<ModelMetricsInput> MetricsInputs() const {
    std::vector<ModelMetricsInput> inputs;
    for (const auto& model : models) {
      inputs.push_back({model->Statistics(), model->spec().max_batch, model->PendingRequests()});
    }
    return inputs;
  }

  // One ModelInfer call: the reactor gRPC drives and the InferCall the model completes.
  class InferReactor final : public grpc::ServerUnaryReactor, public InferCall {
   public:
    InferReactor(Impl* impl, grpc::ByteBuffer* response_buffer)
        : impl_(impl), response_buffer_(response_buffer), messages_(impl->pool.Acquire()) {
      request = &messages_->request;
      response = &messages_->response;
    }
    inference::ModelInferRequest& mutable_request() { return messages_->request; }

    void Complete(const grpc::Status& status) override {
      grpc::Status final_status = status;
      if (status.ok()) {
        bool own_buffer = false;
        final_status = grpc::SerializationTraits<inference::ModelInferResponse>::Serialize(
            messages_->response, response_buffer_, &own_buffer);
      }
      // The response is in the byte buffer now: the messages can serve another call.
      impl_->pool.Release(std::move(messages_));
      Finish(final_status);
    }
    void OnDone() override { delete this; }

   private:
    Impl* impl_;
    grpc::ByteBuffer* response_buffer_;
    std::unique_ptr<InferMessages> messages_;
  };

  // Exactly one authorization entry, carrying the token. With two, a proxy in front of the
  // server could check one while the server accepted the other.
  bool Authorized(grpc::CallbackServerContext* context) const {
    if (expected_authorization.empty()) return true;
    const auto [begin, end] = context->client_metadata().equal_range("authorization");
    if (begin == end || std::next(begin) != end) return false;
    return SameSecret(std::string_view(begin->second.data(), begin->second.size()),
                      expected_authorization);
  }

  static grpc::Status Unauthenticated() {
    return {grpc::StatusCode::UNAUTHENTICATED,
            "this server requires exactly one metadata entry 'authorization: Bearer <token>' "
            "with its token"};
  }

  grpc::Status FindModel(std::string_view name, std::string_view version,
                         ServedModel** model) const {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      std::vector<std::string_view> names;
      for (const auto& [served, unused] : by_name) names.push_back(served);
      return {grpc::StatusCode::NOT_FOUND, fmt::format("unknown model '{}'; this server serves: {}",
                                                       name, fmt::join(names, ", "))};
    }
    if (!version.empty() && version != kModelVersion) {
      return {grpc::StatusCode::NOT_FOUND,
              fmt::format("model '{}' has no version '{}'; available versions: {}", name, version,
                          kModelVersion)};
    }
    *model = it->second;
    return grpc::Status::OK;
  }

  // Finishes a simple call at once through the context's default reactor.
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context,
                                        const grpc::Status& status) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    response->set_live(true);
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* response) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    response->set_ready(!shutting_down.load());
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    ServedModel* model = nullptr;
    response->set_ready(FindModel(request->name(), request->version(), &model).ok() &&
                        !shutting_down.load());
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* response) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    response->set_name("sonicbench");
    response->set_version(std::string(kVersion));
    response->add_extensions("model_statistics");
    response->add_extensions("system_shared_memory");
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    ServedModel* model = nullptr;
    if (auto status = FindModel(request->name(), request->version(), &model); !status.ok()) {
      return Done(context, status);
    }
    const ModelSpec& spec = model->spec();
    response->set_name(spec.name);
    response->add_versions(std::string(kModelVersion));
    response->set_platform(spec.platform);
    auto describe = [](auto* tensor, std::string_view name, const Shape& per_sample) {
      tensor->set_name(std::string(name));
      tensor->set_datatype("FP32");
      tensor->add_shape(-1);
      for (const std::int64_t dim : per_sample) tensor->add_shape(dim);
    };
    describe(response->add_inputs(), kInputName, spec.input_shape);
    describe(response->add_outputs(), kOutputName, spec.output_shape);
    return Done(context, grpc::Status::OK);
  }

  static void Fill(const DurationStat& from, inference::StatisticDuration* to) {
    to->set_count(from.count);
    to->set_ns(from.ns);
  }

  static void Fill(const ModelStatsSnapshot& from, inference::ModelStatistics* to) {
    to->set_name(from.name);
    to->set_version(from.version);
    to->set_last_inference(from.last_inference_ms);
    to->set_inference_count(from.inference_count);
    to->set_execution_count(from.execution_count);
    auto* stats = to->mutable_inference_stats();
    Fill(from.success, stats->mutable_success());
    Fill(from.fail, stats->mutable_fail());
    Fill(from.queue, stats->mutable_queue());
    Fill(from.compute_input, stats->mutable_compute_input());
    Fill(from.compute_infer, stats->mutable_compute_infer());
    Fill(from.compute_output, stats->mutable_compute_output());
    for (const auto& [batch, batch_stats] : from.batch_stats) {
      auto* entry = to->add_batch_stats();
      entry->set_batch_size(batch);
      Fill(batch_stats.compute_input, entry->mutable_compute_input());
      Fill(batch_stats.compute_infer, entry->mutable_compute_infer());
      Fill(batch_stats.compute_output, entry->mutable_compute_output());
    }
  }

  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    if (request->name().empty()) {
      for (const auto& model : models) Fill(model->Statistics(), response->add_model_stats());
      return Done(context, grpc::Status::OK);
    }
    ServedModel* model = nullptr;
    if (auto status = FindModel(request->name(), request->version(), &model); !status.ok()) {
      return Done(context, status);
    }
    Fill(model->Statistics(), response->add_model_stats());
    return Done(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryStatus(
      grpc::CallbackServerContext* context,
      const inference::SystemSharedMemoryStatusRequest* request,
      inference::SystemSharedMemoryStatusResponse* response) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    return Done(context, shared_memory.Status(request->name(), response));
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryRegister(
      grpc::CallbackServerContext* context,
      const inference::SystemSharedMemoryRegisterRequest* request,
      inference::SystemSharedMemoryRegisterResponse*) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    return Done(context, shared_memory.Register(*request));
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryUnregister(
      grpc::CallbackServerContext* context,
      const inference::SystemSharedMemoryUnregisterRequest* request,
      inference::SystemSharedMemoryUnregisterResponse*) override {
    if (!Authorized(context)) return Done(context, Unauthenticated());
    return Done(context, shared_memory.Unregister(request->name()));
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request_buffer,
                                       grpc::ByteBuffer* response_buffer) override {
    const std::int64_t arrival_ns = MonotonicNs();
    auto* call = new InferReactor(this, response_buffer);
    call->arrival_ns = arrival_ns;
    if (!Authorized(context)) {
      call->Complete(Unauthenticated());
      return call;
    }
    // ProtoBufferReader only reads the buffer; it takes a non-const pointer for its C API.
    grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request_buffer));
    if (!reader.status().ok() || !call->mutable_request().ParseFromZeroCopyStream(&reader)) {
      call->Complete({grpc::StatusCode::INVALID_ARGUMENT,
                      fmt::format("ModelInfer: the {} bytes received are not a valid "
                                  "inference.ModelInferRequest message",
                                  request_buffer->Length())});
      return call;
    }
    ServedModel* model = nullptr;
    grpc::Status status =
        FindModel(call->request->model_name(), call->request->model_version(), &model);
    if (status.ok()) {
      status = ValidateInferRequest(*call->request, model->spec(), shared_memory, &call->input);
    }
    if (!status.ok()) {
      if (model != nullptr) model->RecordRejected(arrival_ns);
      call->Complete(status);
      return call;
    }
    model->Submit(call);
    return call;
  }

  void Shutdown(std::chrono::milliseconds drain_timeout) {
    std::lock_guard lock(shutdown_mutex);
    if (shut_down) return;
    shut_down = true;
    shutting_down = true;
    // New calls are refused from here on; calls in flight finish (the batchers keep running)
    // until the deadline, after which gRPC cancels what is left.
    server->Shutdown(std::chrono::system_clock::now() + drain_timeout);
    for (auto& model : models) model->Stop();
    server->Wait();
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(); }

std::unique_ptr<Server> Server::Start(ServerOptions options) {
  PrepareGrpcRuntime();
  if (options.models.empty()) Throw(ErrorKind::kInvalidArgument, "serve: no model to serve");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    Throw(ErrorKind::kInvalidArgument,
          "serve: TLS needs both a certificate file and a key file (got only the {})",
          options.tls_cert_file.empty() ? "key" : "certificate");
  }
  if (options.port < 0 || options.port > 65535) {
    Throw(ErrorKind::kInvalidArgument, "serve: port {} outside [0, 65535]", options.port);
  }
  if (options.metrics_port < -1 || options.metrics_port > 65535) {
    Throw(ErrorKind::kInvalidArgument, "serve: metrics port {} outside [0, 65535] (-1: off)",
          options.metrics_port);
  }
  // Checked before the models compile: gRPC would report a bad certificate or key only as a port
  // it cannot listen on.
  std::optional<TlsKeyCertPair> tls;
  if (!options.tls_cert_file.empty()) {
    tls = LoadTlsKeyCertPair(options.tls_cert_file, options.tls_key_file);
  }
  auto impl = std::make_unique<Impl>();
  std::size_t max_request_bytes = 0;
  for (ServedModelOptions& model_options : options.models) {
    auto model = std::make_unique<ServedModel>(std::move(model_options));
    const ModelSpec& spec = model->spec();
    if (impl->by_name.count(spec.name) != 0) {
      Throw(ErrorKind::kInvalidArgument, "serve: model name '{}' given twice", spec.name);
    }
    max_request_bytes =
        std::max(max_request_bytes, static_cast<std::size_t>(spec.max_batch) *
                                        static_cast<std::size_t>(NumElements(spec.input_shape)) *
                                        sizeof(float));
    impl->by_name.emplace(spec.name, model.get());
    impl->models.push_back(std::move(model));
  }
  options.models.clear();
  if (!options.token.empty()) impl->expected_authorization = "Bearer " + options.token;

  if (options.metrics_port >= 0) {
    bool gpus = false;
    for (const auto& model : impl->models) gpus = gpus || model->options().backend == "cudnn";
    try {
      impl->metrics = std::make_unique<MetricsExporter>(
          MetricsExporterOptions{options.bind_address, options.metrics_port, gpus},
          [served = impl.get()] { return served->MetricsInputs(); });
    } catch (const Error&) {
      for (auto& model : impl->models) model->Stop();
      throw;
    }
  }

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls.has_value()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        {std::move(tls->private_key_pem), std::move(tls->cert_chain_pem)});
    credentials = grpc::SslServerCredentials(ssl);
  }
  const std::string host =
      options.bind_address.find(':') != std::string::npos && options.bind_address.front() != '['
          ? fmt::format("[{}]", options.bind_address)
          : options.bind_address;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(fmt::format("{}:{}", host, options.port), credentials, &impl->port);
  builder.RegisterService(impl.get());
  // gRPC sets SO_REUSEPORT by default on Linux: a second server on the same port would silently
  // share it and split the load. A busy port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<std::size_t>(max_request_bytes + kMessageSlackBytes, INT32_MAX)));
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    for (auto& model : impl->models) model->Stop();
    Throw(ErrorKind::kUnavailable, "serve: cannot listen on {}:{} (address in use or not local?)",
          host, options.port);
  }
  options.bind_address = host;
  impl->options = std::move(options);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }

std::string Server::address() const {
  const std::string& host = impl_->options.bind_address;
  const bool any = host == "0.0.0.0" || host == "[::]";
  return fmt::format("{}:{}", any ? "127.0.0.1" : host, impl_->port);
}

void Server::Shutdown(std::chrono::milliseconds drain_timeout) { impl_->Shutdown(drain_timeout); }

const MetricsExporter* Server::metrics() const { return impl_->metrics.get(); }

std::vector<ModelStatsSnapshot> Server::Statistics() const {
  std::vector<ModelStatsSnapshot> all;
  for (const auto& model : impl_->models) all.push_back(model->Statistics());
  return all;
}

}  // namespace sonic::service
