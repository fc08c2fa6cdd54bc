#pragma once

// Helpers shared by the backend test suites (contract, per-backend): seeded inputs, one compiled
// run, and the accuracy measures the issues name. Test code only.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "core/random.h"
#include "models/graph.h"

namespace sonic::testing {

// `batch` samples of the graph's input, uniform in [0, 1), reproducible from `seed`.
inline std::vector<float> SeededInputs(const Graph& graph, int batch, std::uint64_t seed) {
  Random random(seed);
  std::vector<float> data(batch * NumElements(graph.input_shape()));
  for (float& v : data) v = static_cast<float>(random.Uniform());
  return data;
}

// Compiles the graph with `options` and runs `input` once at `batch`.
inline std::vector<float> RunOnce(const Backend& backend, const Graph& graph,
                                  const CompileOptions& options, std::span<const float> input,
                                  int batch) {
  auto executable = backend.Compile(graph, options);
  std::vector<float> output(batch * NumElements(graph.output_shape()));
  executable->Run(input, batch, output);
  return output;
}

// ||out - ref|| / ||ref||, the contract's accuracy measure.
inline double RelativeError(std::span<const float> out, std::span<const float> ref) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff += (double{out[i]} - ref[i]) * (double{out[i]} - ref[i]);
    norm += double{ref[i]} * ref[i];
  }
  return std::sqrt(diff / norm);
}

// The arg-max class of each sample.
inline std::vector<int> Top1(std::span<const float> out, std::int64_t classes) {
  std::vector<int> top;
  for (std::size_t first = 0; first < out.size(); first += classes) {
    const auto row = out.subspan(first, classes);
    top.push_back(static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin()));
  }
  return top;
}

// Fraction of samples whose arg-max class is the same in both outputs.
inline double TopOneAgreement(std::span<const float> a, std::span<const float> b,
                              std::int64_t classes) {
  const std::vector<int> top_a = Top1(a, classes), top_b = Top1(b, classes);
  std::size_t same = 0;
  for (std::size_t i = 0; i < top_a.size(); ++i) same += top_a[i] == top_b[i];
  return top_a.empty() ? 0.0 : static_cast<double>(same) / top_a.size();
}

}  // namespace sonic::testing
