#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "service/metrics_exporter.h"
#include "service/served_model.h"
#include "service/statistics.h"

namespace sonic::service {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";  // loopback unless told otherwise
  int port = 0;                            // 0: a free port, chosen by the kernel
  // TLS: PEM files for the server's certificate chain and private key (both, or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Non-empty: every call must carry exactly one metadata entry "authorization: Bearer <token>",
  // else it is answered UNAUTHENTICATED.
  std::string token;
  // -1: no metrics endpoint; else the TCP port (0: a free one) of GET /metrics, on bind_address,
  // in Prometheus's text format (MetricsExporter), without TLS or token, as Triton's.
  int metrics_port = -1;
  std::vector<ServedModelOptions> models;  // at least one; names unique
};

// The KServe v2 gRPC server (inference.GRPCInferenceService, plus Triton's ModelStatistics).
// It runs on gRPC's callback API: no thread per request; a ModelInfer call is parsed into a
// pooled request message (whose buffers are reused from call to call), validated, and queued on
// its model's batcher; an instance thread runs it and sends the response. Bad requests get a
// gRPC status naming what was wrong and what was expected, and never disturb other calls.
// Contract: Start returns once the port is bound and every model compiled; all methods are
// thread-safe; Shutdown (or the destructor) stops accepting calls, lets in-flight ones finish
// (cancelling what remains at the drain deadline), then stops the models.
class Server {
 public:
  // Compiles the models and starts serving. Throws sonic::Error: kInvalidArgument for bad
  // options (a TLS certificate or key that does not parse or does not match among them, checked
  // before the models compile), kNotFound for an unknown backend or a TLS file that cannot be
  // opened, kUnavailable when the address (or the metrics port) cannot be bound.
  static std::unique_ptr<Server> Start(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  std::string address() const;  // "host:port", for a client
  void Shutdown(std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));
  std::vector<ModelStatsSnapshot> Statistics() const;
  // The metrics endpoint, serving until destruction (drain included); nullptr when it is off.
  const MetricsExporter* metrics() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sonic::service
