#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/graph.h"

namespace sonic {

// The built-in models. Weights are seeded and deterministic: He-normal convolution and dense
// weights, and non-trivial batch-norm statistics so that folding is exercised. Builders return
// graphs with shapes inferred and batch norm NOT yet folded (as an importer would see them).
struct ModelOptions {
  std::int64_t num_classes = 0;  // 0: the model's default
  std::uint64_t seed = 1;
  bool softmax = true;  // end with Softmax (probabilities) rather than logits
};

struct ModelInfo {
  std::string name;
  std::string description;
  Shape input_shape;  // per sample
  std::int64_t default_classes;
};

const std::vector<ModelInfo>& BuiltinModels();
// Builds a model by name; throws Error(kNotFound) listing the known names.
Graph BuildModel(std::string_view name, const ModelOptions& options = {});

Graph BuildResNet50(const ModelOptions& options = {});  // v1.5: stride on the 3x3 convolution
Graph BuildResNet18(const ModelOptions& options = {});
// A small jet-tagging CNN for fast runs: 1x40x40 jet image, 2 classes (top, QCD).
Graph BuildJetCnn(const ModelOptions& options = {});

}  // namespace sonic
