#pragma once

#include <grpcpp/support/status.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "models/graph.h"
#include "service/batcher.h"
#include "service/proto/grpc_service.pb.h"
#include "service/statistics.h"
#include "service/validation.h"

namespace sonic::service {

// One ModelInfer call on its way through a model: the server's per-call state. The server fills
// the fields, validates, and submits it; the model finishes it exactly once.
class InferCall : public BatchItem {
 public:
  virtual ~InferCall() = default;
  // Sends the response (already filled when `status` is OK). Called once, from the model's
  // responder or an instance thread, or from Submit when the model is stopping. The call may be
  // destroyed as soon as it returns.
  virtual void Complete(const grpc::Status& status) = 0;

  const inference::ModelInferRequest* request = nullptr;
  inference::ModelInferResponse* response = nullptr;
  ValidatedInput input;
  std::int64_t arrival_ns = 0;  // when the server received it (MonotonicNs)
};

struct ServedModelOptions {
  std::string name;  // the name clients use; empty: the graph's name
  Graph graph;       // shapes inferred
  std::string backend = "reference";
  int instances = 1;  // Executables, each with its own thread
  BatcherOptions batching;
  Precision precision = Precision::kFp32;
  int threads = 0;                 // per Executable; 0: the backend's default
  std::string device;              // CompileOptions::device; empty: the first
  std::string backend_options;     // CompileOptions::backend_options; empty: the defaults
  std::vector<float> calibration;  // CompileOptions::calibration; empty: the backend's own
};

// Completes finished calls on its own thread, in the order given, so that an instance with
// requests waiting goes on to its next execution instead of waiting in gRPC's completion path
// (serialising the response and Finish took ~160 µs per call with 602 KB requests on 2 vCPUs, 20%
// of a 1.5 ms device; docs/PERFORMANCE.md "Jobs against one emulated device"). Thread-safe; Stop
// completes what was queued, then joins.
class Responder {
 public:
  Responder();
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void Complete(InferCall* call, grpc::Status status);
  void Stop();

 private:
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::pair<InferCall*, grpc::Status>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// A model being served: N instances (each its own Executable, compiled at construction for
// batching.max_batch, with reusable input and output staging buffers) behind a dynamic batcher,
// and the model's statistics. Requests of one execution are gathered into one input batch
// (no copy for a lone request), run, and the outputs split back into each request's response.
// Contract: Submit and Statistics are thread-safe; Stop drains and must be called before
// destruction by whoever stops accepting calls.
class ServedModel {
 public:
  // Compiles every instance (untimed setup). Throws sonic::Error from the backend.
  explicit ServedModel(ServedModelOptions options);
  ~ServedModel();
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;

  const ModelSpec& spec() const { return spec_; }
  const ServedModelOptions& options() const { return options_; }

  // Queues a validated call (call->input filled; batch and enqueue time set here).
  void Submit(InferCall* call);
  // A call rejected before submission (validation): counted as a failure.
  void RecordRejected(std::int64_t arrival_ns);
  // Runs everything queued, then stops the instance threads; later Submits get UNAVAILABLE.
  void Stop();

  ModelStatsSnapshot Statistics() const { return stats_.Snapshot(); }
  // Requests queued and not yet taken by an instance (Triton's pending request count).
  std::size_t PendingRequests() const;

 private:
  struct Instance {
    std::unique_ptr<Executable> executable;
    std::vector<float> input;   // max_batch samples: gathers several requests
    std::vector<float> output;  // max_batch samples: before the split
  };
  void Execute(int instance, std::span<BatchItem* const> items, int samples);

  ServedModelOptions options_;
  ModelSpec spec_;
  std::size_t input_floats_ = 0;   // per sample
  std::size_t output_floats_ = 0;  // per sample
  std::vector<Instance> instances_;
  ModelStatsRecorder stats_;
  Responder responder_;                      // the instances hand it their finished calls
  std::unique_ptr<DynamicBatcher> batcher_;  // last: its threads use everything above
};

}  // namespace sonic::service
