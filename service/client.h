#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "service/link.h"
#include "service/statistics.h"

namespace sonic::service {

struct ClientOptions {
  std::string address;  // "host:port" of any KServe v2 gRPC server (ours, Triton, KServe)
  int channels = 1;     // separate HTTP/2 connections, used round-robin
  // Per inference, from AsyncInfer to the end of the last attempt, retries and the emulated
  // uplink delay included (the paper's client used 30 s).
  std::int64_t deadline_ms = 30'000;
  // Re-sends after UNAVAILABLE (connection refused or lost, server shutting down), with back-off
  // 10 ms, 20 ms, 40 ms...; other errors are final.
  int max_retries = 2;
  std::string tls_root_certs_pem;  // non-empty: TLS, trusting these roots
  std::string tls_server_name;     // non-empty: the name checked in the server's certificate
  std::string token;               // non-empty: sent as "authorization: Bearer <token>"
  LinkProfile link;                // emulated network between client and server
};

// gRPC status codes by number: 0 OK, 1 CANCELLED, ... 16 UNAUTHENTICATED.
inline constexpr int kRpcCodeCount = 17;
std::string_view RpcCodeName(int code);  // "UNAVAILABLE"

struct RpcStatus {
  int code = 0;  // a gRPC status code
  std::string message;
  bool ok() const { return code == 0; }
};

// One inference's input, by reference: everything is copied into the request message before
// AsyncInfer returns, so the caller may reuse its buffers at once.
struct InferInput {
  std::string_view model;
  std::string_view version;  // empty: the server's choice
  std::string_view input_name = "input";
  std::span<const std::int64_t> shape;  // batch first, e.g. {1, 3, 224, 224}
  std::span<const float> data;          // NumElements(shape) values
};

// The outcome of one inference, as the completion callback sees it.
struct InferReply {
  RpcStatus status;
  std::span<const float> output;  // the first output tensor; valid during the callback only
  std::span<const std::int64_t> output_shape;
  int attempts = 0;                // 1 + retries
  std::int64_t request_bytes = 0;  // serialized message sizes (gRPC framing not included)
  std::int64_t response_bytes = 0;
};
using InferCallback = std::function<void(const InferReply&)>;

struct ClientCounters {
  std::uint64_t requests = 0;  // inferences submitted
  std::uint64_t ok = 0;
  std::array<std::uint64_t, kRpcCodeCount> errors_by_code{};  // final failures, by gRPC code
  std::uint64_t retries = 0;
  std::uint64_t bytes_sent = 0;  // serialized request messages, every attempt
  std::uint64_t bytes_received = 0;
  std::map<std::string, std::uint64_t> ErrorsByKind() const;  // non-zero ones, by code name
};

struct RemoteTensor {
  std::string name;
  std::string datatype;
  Shape shape;  // -1 for a variable dimension
};
struct RemoteModelMetadata {
  std::string name;
  std::string platform;
  std::vector<std::string> versions;
  std::vector<RemoteTensor> inputs, outputs;
};
struct RemoteServerMetadata {
  std::string name, version;
  std::vector<std::string> extensions;
};

// A KServe v2 gRPC client. Inference is asynchronous at heart (gRPC's callback API; no thread
// per call): AsyncInfer copies the input into a pooled request message (reused from call to
// call) and returns; the callback runs later on a gRPC thread, or on the link emulator's thread
// when a link is emulated. BlockingInfer and Infer are the same call, waited for.
// Contract: all methods are thread-safe. Callbacks must be short and must not throw; they may
// call AsyncInfer. The metadata and statistics calls throw sonic::Error (kUnavailable when the
// server cannot be reached, kNotFound for an unknown model, kBackend for other statuses, the
// gRPC status named); inference reports errors in the reply and counts them. The destructor
// waits for every call in flight.
class Client {
 public:
  explicit Client(ClientOptions options);  // creates the channels; connects lazily
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Polls ServerReady until true; throws Error(kUnavailable) with the last error after timeout,
  // or once `cancel` (if given) is true, within 500 ms.
  void WaitForReady(std::int64_t timeout_ms, const std::atomic<bool>* cancel = nullptr);
  bool ServerLive();
  bool ServerReady();
  bool ModelReady(const std::string& model, const std::string& version = "");
  RemoteServerMetadata ServerMetadata();
  RemoteModelMetadata ModelMetadata(const std::string& model, const std::string& version = "");
  // Triton's ModelStatistics extension (a plain KServe server answers UNIMPLEMENTED: kBackend).
  ModelStatsSnapshot ModelStatistics(const std::string& model);

  // Throws Error(kInvalidArgument) when data and shape disagree; every other failure is in the
  // reply, counted in counters().
  void AsyncInfer(const InferInput& input, InferCallback done);
  // The same inference, waited for: `done` has run when this returns. Without an emulated link
  // the gRPC call blocks the calling thread, which reads its own reply (no hand-off to a gRPC
  // thread and back: the shorter path for a thread with one inference in flight, as a
  // closed-loop client has); `done` then runs on this thread. With a link it is AsyncInfer
  // waited for. Errors as AsyncInfer.
  void BlockingInfer(const InferInput& input, InferCallback done);
  // BlockingInfer, copying the output out.
  RpcStatus Infer(const InferInput& input, std::vector<float>* output,
                  Shape* output_shape = nullptr);

  ClientCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sonic::service
