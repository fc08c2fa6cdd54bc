#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "bench/loadgen/target.h"
#include "core/input_source.h"
#include "core/tensor.h"
#include "models/graph.h"

namespace sonic {

struct LocalTargetOptions {
  int batch = 1;
  Precision precision = Precision::kFp32;
  int threads = 0;                 // backend threads per Executable (CompileOptions::threads)
  std::string device;              // CompileOptions::device; empty: the first
  std::string backend_options;     // CompileOptions::backend_options; empty: the defaults
  std::vector<float> calibration;  // CompileOptions::calibration; empty: the backend's own
  // Distinct input batches staged per target before timing; request i uses batch i mod this, so
  // the timed region never copies or generates inputs.
  int staged_batches = 4;
};

// What each worker's Executable is compiled with: `options` at max_batch = its batch. The
// calibration is a view of options.calibration, which must outlive the result.
CompileOptions CompileOptionsOf(const LocalTargetOptions& options);

// The backend in the client's own process: one Executable per client worker, compiled on that
// worker's thread in PrepareWorker; Submit runs it synchronously and completes inline. Inputs are
// staged from `inputs` in Setup, shared read-only by all workers; each worker owns its outputs.
class LocalTarget final : public Target {
 public:
  LocalTarget(std::shared_ptr<const Backend> backend, Graph graph, LocalTargetOptions options,
              std::shared_ptr<const InputSource> inputs);
  ~LocalTarget() override;

  void Setup(int workers) override;
  void PrepareWorker(int worker) override;
  void Submit(const Request& request, CompletionHandler& on_done) override;
  int batch() const override { return options_.batch; }

 private:
  struct Worker;

  std::shared_ptr<const Backend> backend_;
  Graph graph_;
  LocalTargetOptions options_;
  std::shared_ptr<const InputSource> inputs_;
  std::size_t input_floats_ = 0;  // per request: batch x per-sample elements
  std::size_t output_floats_ = 0;
  std::vector<std::vector<float>> staged_;  // staged_batches input buffers
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace sonic
