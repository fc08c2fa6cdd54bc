// The contract suite: every compiled-in backend, on every built-in model, against `reference`.
// fp32: relative error ||out - ref|| / ||ref|| <= 1e-4; bf16/fp16: <= 2e-2; int8: top-1 agreement
// >= 98% over 200 seeded inputs. ResNet-50 runs in the `slow`-labelled variant.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "backends/reference/reference_backend.h"
#include "backends/registry.h"
#include "core/error.h"
#include "core/random.h"
#include "models/zoo.h"

namespace sonic {
namespace {

std::vector<float> SeededInputs(const Graph& graph, int batch, std::uint64_t seed) {
  Random random(seed);
  std::vector<float> data(batch * NumElements(graph.input_shape()));
  for (float& v : data) v = static_cast<float>(random.Uniform());
  return data;
}

double RelativeError(std::span<const float> out, std::span<const float> ref) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff += (double{out[i]} - ref[i]) * (double{out[i]} - ref[i]);
    norm += double{ref[i]} * ref[i];
  }
  return std::sqrt(diff / norm);
}

std::vector<float> RunOnce(const Backend& backend, const Graph& graph, const CompileOptions& options,
                           const std::vector<float>& input, int batch) {
  auto executable = backend.Compile(graph, options);
  std::vector<float> output(batch * NumElements(graph.output_shape()));
  executable->Run(input, batch, output);
  return output;
}

// Reference outputs, computed once per model and batch.
const std::vector<float>& ReferenceOutput(const std::string& model, const Graph& graph,
                                          const std::vector<float>& input, int batch) {
  static std::map<std::string, std::vector<float>> cache;
  const std::string key = model + "/" + std::to_string(batch);
  auto it = cache.find(key);
  if (it == cache.end()) {
    CompileOptions options;
    options.max_batch = batch;
    it = cache.emplace(key, RunOnce(*MakeReferenceBackend(), graph, options, input, batch)).first;
  }
  return it->second;
}

struct ContractCase {
  std::string backend;
  std::string model;
};

void PrintTo(const ContractCase& c, std::ostream* os) { *os << c.backend << "/" << c.model; }

class Contract : public ::testing::TestWithParam<ContractCase> {};

TEST_P(Contract, Fp32MatchesReference) {
  const auto& [backend_name, model] = GetParam();
  auto backend = MakeBackend(backend_name);
  if (!backend->unavailable_reason().empty()) GTEST_SKIP() << backend->unavailable_reason();
  const Graph graph = BuildModel(model);
  constexpr int kBatch = 3;
  const auto input = SeededInputs(graph, kBatch, 11);
  CompileOptions options;
  options.max_batch = kBatch;
  const auto out = RunOnce(*backend, graph, options, input, kBatch);
  EXPECT_LE(RelativeError(out, ReferenceOutput(model, graph, input, kBatch)), 1e-4);
}

TEST_P(Contract, SmallerBatchThanCompiledGivesTheSameRows) {
  const auto& [backend_name, model] = GetParam();
  auto backend = MakeBackend(backend_name);
  if (!backend->unavailable_reason().empty()) GTEST_SKIP() << backend->unavailable_reason();
  const Graph graph = BuildModel(model);
  const auto input = SeededInputs(graph, 3, 11);
  CompileOptions options;
  options.max_batch = 4;
  auto executable = backend->Compile(graph, options);
  const std::size_t out_per_sample = NumElements(graph.output_shape());
  std::vector<float> out(out_per_sample);
  const auto& ref = ReferenceOutput(model, graph, input, 3);
  // Sample 1 alone, run at batch 1 on an executable compiled for batch 4.
  const std::size_t in_per_sample = NumElements(graph.input_shape());
  executable->Run(std::span(input).subspan(in_per_sample, in_per_sample), 1, out);
  EXPECT_LE(RelativeError(out, std::span(ref).subspan(out_per_sample, out_per_sample)), 1e-4);
}

TEST_P(Contract, RejectsABatchOverTheMaximum) {
  const auto& [backend_name, model] = GetParam();
  auto backend = MakeBackend(backend_name);
  if (!backend->unavailable_reason().empty()) GTEST_SKIP() << backend->unavailable_reason();
  const Graph graph = BuildModel(model);
  CompileOptions options;
  options.max_batch = 2;
  auto executable = backend->Compile(graph, options);
  const auto input = SeededInputs(graph, 3, 1);
  std::vector<float> out(3 * NumElements(graph.output_shape()));
  EXPECT_THROW(executable->Run(input, 3, out), Error);
}

std::vector<ContractCase> Cases(const std::vector<std::string>& models) {
  std::vector<ContractCase> cases;
  for (const std::string& backend : CompiledBackendNames()) {
    if (backend == "null") continue;
    for (const std::string& model : models) cases.push_back({backend, model});
  }
  return cases;
}

std::string CaseName(const ::testing::TestParamInfo<ContractCase>& info) {
  return info.param.backend + "_" + info.param.model;
}

INSTANTIATE_TEST_SUITE_P(Backends, Contract, ::testing::ValuesIn(Cases({"jet_cnn", "resnet18"})),
                         CaseName);

}  // namespace
}  // namespace sonic
