// GPU tests of the cudnn backend against `reference`. On a machine without a CUDA device every
// test skips with the backend's reason ("no CUDA device ...").
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "backends/accuracy.h"
#include "backends/backend_testing.h"
#include "backends/cudnn/cudnn_backend.h"
#include "backends/reference/reference_backend.h"
#include "core/error.h"
#include "core/random.h"
#include "models/zoo.h"

namespace sonic {
namespace {

using testing::SeededInputs;

std::vector<float> CompileAndRun(const Backend& backend, const Graph& graph, Precision precision,
                                 int max_batch, const std::vector<float>& input, int batch,
                                 DeviceTiming* timing = nullptr) {
  CompileOptions options;
  options.max_batch = max_batch;
  options.precision = precision;
  auto executable = backend.Compile(graph, options);
  std::vector<float> output(batch * NumElements(graph.output_shape()));
  executable->Run(input, batch, output, timing);
  return output;
}

struct Case {
  std::string model;
  Precision precision;
  double tolerance;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << "/" << PrecisionName(c.precision);
}

class CudnnAccuracy : public ::testing::TestWithParam<Case> {};

TEST_P(CudnnAccuracy, MatchesReferenceWithinThePrecisionsTolerance) {
  auto backend = MakeCudnnBackend();
  if (!backend->unavailable_reason().empty()) GTEST_SKIP() << backend->unavailable_reason();
  const auto& [model, precision, tolerance] = GetParam();
  const Graph graph = BuildModel(model);
  // Batch 3 on an executable compiled for 8 runs on the batch-4 plan: the padding rows must not
  // leak into the results.
  const auto input = SeededInputs(graph, 3, 5);
  const auto ref = CompileAndRun(*MakeReferenceBackend(), graph, Precision::kFp32, 3, input, 3);
  DeviceTiming timing;
  const auto out = CompileAndRun(*backend, graph, precision, 8, input, 3, &timing);
  EXPECT_LE(RelativeError(out, ref), tolerance);
  EXPECT_GE(timing.upload_ns, 0);
  EXPECT_GT(timing.compute_ns, 0);
  EXPECT_GE(timing.download_ns, 0);
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudnnAccuracy,
                         ::testing::Values(Case{"jet_cnn", Precision::kFp32, 1e-4},
                                           Case{"resnet18", Precision::kFp32, 1e-4},
                                           Case{"resnet50", Precision::kFp32, 1e-4},
                                           Case{"jet_cnn", Precision::kFp16, 2e-2},
                                           Case{"resnet50", Precision::kFp16, 2e-2},
                                           Case{"jet_cnn", Precision::kBf16, 2e-2},
                                           Case{"resnet50", Precision::kBf16, 2e-2},
                                           Case{"resnet50", Precision::kTf32, 2e-2}));

TEST(Cudnn, InstancesShareOneGpuFromSeveralThreads) {
  auto backend = MakeCudnnBackend();
  if (!backend->unavailable_reason().empty()) GTEST_SKIP() << backend->unavailable_reason();
  const Graph graph = BuildJetCnn();
  const auto input = SeededInputs(graph, 4, 9);
  const auto ref = CompileAndRun(*MakeReferenceBackend(), graph, Precision::kFp32, 4, input, 4);
  std::vector<double> errors(4, 1.0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      CompileOptions options;
      options.max_batch = 4;
      auto executable = backend->Compile(graph, options);
      std::vector<float> out(ref.size());
      for (int i = 0; i < 50; ++i) executable->Run(input, 4, out);
      errors[t] = RelativeError(out, ref);
    });
  }
  for (auto& thread : threads) thread.join();
  for (double error : errors) EXPECT_LE(error, 1e-4);
}

TEST(Cudnn, ReportsWhyItIsUnavailableOrNamesTheGpu) {
  auto backend = MakeCudnnBackend();
  if (backend->unavailable_reason().empty()) {
    EXPECT_NE(backend->device_name(), "none");
  } else {
    EXPECT_NE(backend->unavailable_reason().find("no CUDA device"), std::string::npos);
    EXPECT_THROW(backend->Compile(BuildJetCnn(), {}), Error);
  }
  EXPECT_NE(backend->library_version().find("cuDNN 9"), std::string::npos);
}

}  // namespace
}  // namespace sonic
