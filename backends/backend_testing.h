#pragma once

// Helpers shared by the backend test suites (contract, per-backend): seeded inputs and one
// compiled run; the accuracy measures and bounds are backends/accuracy.h. Test code only.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "backends/accuracy.h"
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

}  // namespace sonic::testing
