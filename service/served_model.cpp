#include "service/served_model.h"

#include <fmt/format.h>

#include <cstring>

#include "backends/registry.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/tensor.h"

namespace sonic::service {
namespace {

grpc::StatusCode CodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorKind::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorKind::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    default:
      return grpc::StatusCode::INTERNAL;
  }
}

bool FloatAligned(const void* pointer) {
  return reinterpret_cast<std::uintptr_t>(pointer) % alignof(float) == 0;
}

// Where a call's output bytes go: its shared-memory region, or its response's raw contents.
char* OutputDestination(InferCall& call) {
  if (call.input.output.data != nullptr) return call.input.output.data;
  return call.response->mutable_raw_output_contents(0)->data();
}

}  // namespace

Responder::Responder() : thread_([this] { Loop(); }) {}

Responder::~Responder() { Stop(); }

void Responder::Complete(InferCall* call, grpc::Status status) {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(call, std::move(status));
  }
  wake_.notify_one();
}

void Responder::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Responder::Loop() {
  std::vector<std::pair<InferCall*, grpc::Status>> sending;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything sent
    sending.swap(queue_);
    lock.unlock();
    for (auto& [call, status] : sending) call->Complete(status);
    sending.clear();
    lock.lock();
  }
}

ServedModel::ServedModel(ServedModelOptions options)
    : options_(std::move(options)),
      stats_(options_.name.empty() ? options_.graph.name : options_.name,
             std::string(kModelVersion), options_.instances) {
  if (options_.name.empty()) options_.name = options_.graph.name;
  if (options_.instances < 1) {
    Throw(ErrorKind::kInvalidArgument, "model '{}': instances {} must be at least 1", options_.name,
          options_.instances);
  }
  options_.batching.Validate();
  const auto backend = MakeUsableBackend(options_.backend, options_.precision, options_.device,
                                         options_.backend_options);
  spec_ = {options_.name, fmt::format("sonicbench_{}", backend->name()),
           options_.graph.input_shape(), options_.graph.output_shape(),
           options_.batching.max_batch};
  input_floats_ = static_cast<std::size_t>(NumElements(spec_.input_shape));
  output_floats_ = static_cast<std::size_t>(NumElements(spec_.output_shape));
  CompileOptions compile;
  compile.max_batch = spec_.max_batch;
  compile.precision = options_.precision;
  compile.threads = options_.threads;
  compile.device = options_.device;
  compile.backend_options = options_.backend_options;
  compile.calibration = options_.calibration;
  instances_.resize(static_cast<std::size_t>(options_.instances));
  for (Instance& instance : instances_) {
    instance.input = AllocateFloats(spec_.input_shape, spec_.max_batch,
                                    fmt::format("model '{}' input", options_.name));
    instance.output = AllocateFloats(spec_.output_shape, spec_.max_batch,
                                     fmt::format("model '{}' output", options_.name));
    instance.executable = backend->Compile(options_.graph, compile);
  }
  batcher_ =
      std::make_unique<DynamicBatcher>(options_.batching, options_.instances,
                                       [this](int instance, std::span<BatchItem* const> items,
                                              int samples) { Execute(instance, items, samples); });
}

ServedModel::~ServedModel() { Stop(); }

void ServedModel::Stop() {
  if (batcher_ != nullptr) batcher_->Stop();
  responder_.Stop();  // after the batcher: its last executions hand calls over
}

void ServedModel::Submit(InferCall* call) {
  call->batch = call->input.batch;
  call->enqueue_ns = MonotonicNs();
  if (!batcher_->Enqueue(call)) {
    stats_.RecordFailure(MonotonicNs() - call->arrival_ns);
    call->Complete(
        {grpc::StatusCode::UNAVAILABLE, fmt::format("model '{}' is shutting down", options_.name)});
  }
}

void ServedModel::RecordRejected(std::int64_t arrival_ns) {
  stats_.RecordFailure(MonotonicNs() - arrival_ns);
}

void ServedModel::Execute(int instance_index, std::span<BatchItem* const> items, int samples) {
  Instance& instance = instances_[static_cast<std::size_t>(instance_index)];
  const std::int64_t start_ns = MonotonicNs();
  std::int64_t queue_ns = 0;
  for (const BatchItem* item : items) queue_ns += start_ns - item->enqueue_ns;
  auto call_at = [&](std::size_t i) { return static_cast<InferCall*>(items[i]); };

  // compute_input: gather the inputs (a lone aligned request is used in place) and shape the
  // responses, whose reused output strings keep their capacity from earlier calls.
  const float* input = instance.input.data();
  if (items.size() == 1 && FloatAligned(call_at(0)->input.data)) {
    input = reinterpret_cast<const float*>(call_at(0)->input.data);
  } else {
    char* destination = reinterpret_cast<char*>(instance.input.data());
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::memcpy(destination, call_at(i)->input.data, call_at(i)->input.bytes);
      destination += call_at(i)->input.bytes;
    }
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    InferCall* call = call_at(i);
    inference::ModelInferResponse& response = *call->response;
    response.set_model_name(options_.name);
    response.set_model_version(std::string(kModelVersion));
    response.set_id(call->request->id());
    auto* tensor = response.add_outputs();
    tensor->set_name(std::string(kOutputName));
    tensor->set_datatype("FP32");
    tensor->add_shape(call->batch);
    for (const std::int64_t dim : spec_.output_shape) tensor->add_shape(dim);
    const std::size_t bytes =
        static_cast<std::size_t>(call->batch) * output_floats_ * sizeof(float);
    if (call->input.output.data == nullptr) {
      response.add_raw_output_contents()->resize(bytes);
    } else {
      // As Triton does: an output written to shared memory names its region, with no bytes in
      // the message.
      for (const auto& requested : call->request->outputs()) {
        tensor->mutable_parameters()->insert(requested.parameters().begin(),
                                             requested.parameters().end());
      }
    }
  }
  // A lone request's output is written where it goes (its response, or its shared memory).
  float* output = instance.output.data();
  char* lone_destination = OutputDestination(*call_at(0));
  const bool output_in_place = items.size() == 1 && FloatAligned(lone_destination);
  if (output_in_place) output = reinterpret_cast<float*>(lone_destination);
  const std::int64_t input_done_ns = MonotonicNs();

  // Every count is recorded before the first response goes out: a client that has its answer
  // sees statistics that include it.
  auto fail_all = [&](grpc::StatusCode code, std::string_view what) {
    const grpc::Status status(code, fmt::format("model '{}' failed on backend '{}': {}",
                                                options_.name, options_.backend, what));
    for (std::size_t i = 0; i < items.size(); ++i) {
      stats_.RecordFailure(MonotonicNs() - call_at(i)->arrival_ns);
    }
    stats_.RecordInstanceBusy(instance_index, MonotonicNs() - start_ns);
    for (std::size_t i = 0; i < items.size(); ++i) call_at(i)->Complete(status);
  };
  try {
    instance.executable->Run({input, static_cast<std::size_t>(samples) * input_floats_}, samples,
                             {output, static_cast<std::size_t>(samples) * output_floats_});
  } catch (const Error& error) {
    return fail_all(CodeFor(error.kind()), error.what());
  } catch (const std::exception& error) {  // std::bad_alloc and the like: fail these, serve on
    return fail_all(grpc::StatusCode::INTERNAL, error.what());
  }
  const std::int64_t infer_done_ns = MonotonicNs();

  // compute_output: split the batch back into each request's response.
  if (!output_in_place) {
    const char* source = reinterpret_cast<const char*>(output);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::size_t bytes =
          static_cast<std::size_t>(call_at(i)->batch) * output_floats_ * sizeof(float);
      std::memcpy(OutputDestination(*call_at(i)), source, bytes);
      source += bytes;
    }
  }
  const std::int64_t output_done_ns = MonotonicNs();
  stats_.RecordExecution(samples, static_cast<int>(items.size()), queue_ns,
                         input_done_ns - start_ns, infer_done_ns - input_done_ns,
                         output_done_ns - infer_done_ns);
  // With requests waiting, the responder sends these while the instance runs the next ones; with
  // none, sending them here saves the hand-over's wake-up from their latency.
  const bool hand_over = batcher_->QueuedItems() > 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    stats_.RecordSuccess(call_at(i)->batch, output_done_ns - call_at(i)->arrival_ns);
  }
  stats_.RecordInstanceBusy(instance_index, MonotonicNs() - start_ns);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (hand_over) {
      responder_.Complete(call_at(i), grpc::Status::OK);
    } else {
      call_at(i)->Complete(grpc::Status::OK);
    }
  }
}

std::size_t ServedModel::PendingRequests() const { return batcher_->QueuedItems(); }

}  // namespace sonic::service
