#include "bench/loadgen/local_target.h"

#include <new>

#include "core/error.h"

namespace sonic {

// Cache-line aligned so that two workers' hot fields never share a line.
struct alignas(64) LocalTarget::Worker {
  std::unique_ptr<Executable> executable;
  std::vector<float> output;
  std::string error_message;  // the last failure, alive during its completion callback
};

LocalTarget::LocalTarget(std::shared_ptr<const Backend> backend, Graph graph,
                         LocalTargetOptions options, std::shared_ptr<const InputSource> inputs)
    : backend_(std::move(backend)),
      graph_(std::move(graph)),
      options_(std::move(options)),
      inputs_(std::move(inputs)) {
  CheckStagingOptions(options_.batch, options_.staged_batches);
}

LocalTarget::~LocalTarget() = default;

void LocalTarget::Setup(int workers) {
  const auto sample_floats = static_cast<std::size_t>(NumElements(graph_.input_shape()));
  input_floats_ = sample_floats * options_.batch;
  output_floats_ = static_cast<std::size_t>(NumElements(graph_.output_shape())) * options_.batch;
  staged_ = StageInputBatches(*inputs_, sample_floats, options_.batch, options_.staged_batches);
  workers_.clear();
  for (int w = 0; w < workers; ++w) workers_.push_back(std::make_unique<Worker>());
}

CompileOptions CompileOptionsOf(const LocalTargetOptions& options) {
  CompileOptions compile;
  compile.max_batch = options.batch;
  compile.precision = options.precision;
  compile.threads = options.threads;
  compile.device = options.device;
  compile.backend_options = options.backend_options;
  compile.calibration = options.calibration;
  return compile;
}

void LocalTarget::PrepareWorker(int worker) {
  Worker& state = *workers_.at(worker);
  state.executable = backend_->Compile(graph_, CompileOptionsOf(options_));
  state.output.assign(output_floats_, 0.0f);
  // The first Run allocates scratch and spawns backend threads: keep it out of the timed region.
  state.executable->Run(staged_[0], options_.batch, state.output);
}

void LocalTarget::Submit(const Request& request, CompletionHandler& on_done) {
  Worker& state = *workers_[request.worker];
  const std::vector<float>& input =
      staged_[static_cast<std::size_t>(request.sample_index) % staged_.size()];
  Response response;
  try {
    state.executable->Run(input, options_.batch, state.output);
  } catch (const Error& error) {
    state.error_message = error.what();
    response.error = error.kind();
    response.error_message = state.error_message;
  } catch (const std::bad_alloc&) {
    // A literal: building a string here could throw again.
    response.error = ErrorKind::kResourceExhausted;
    response.error_message = "out of memory in Executable::Run";
  }
  on_done.OnDone(request, response);
}

}  // namespace sonic
