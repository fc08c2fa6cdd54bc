#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace sonic {

// The network as a small graph IR that every backend consumes. Conventions:
// - Activations are float32, NCHW. Shapes in the graph are per sample: the batch dimension is
//   implicit and comes first at run time, so one Graph compiles for any batch size.
// - Parameters (weights, biases, batch-norm statistics) are float32 and owned by their node.
// - Nodes are stored in topological order; each produces exactly one value.
// - The graph has one input and one output value.
// A Graph is a plain value: copyable, no hidden state, safe to read from many threads.

using ValueId = int;

enum class OpKind {
  kConv2D,
  kBatchNorm,
  kRelu,
  kMaxPool,
  kAveragePool,
  kGlobalAveragePool,
  kAdd,
  kFlatten,
  kDense,
  kSoftmax,
};

std::string_view OpKindName(OpKind op);

struct Conv2DAttrs {
  std::int64_t out_channels = 0;
  std::array<std::int64_t, 2> kernel{1, 1};      // {height, width}
  std::array<std::int64_t, 2> stride{1, 1};      // {height, width}
  std::array<std::int64_t, 2> dilation{1, 1};    // {height, width}
  std::array<std::int64_t, 4> pads{0, 0, 0, 0};  // {top, left, bottom, right}
  std::int64_t groups = 1;
  std::vector<float> weight;  // [out_channels, in_channels / groups, kernel_h, kernel_w]
  std::vector<float> bias;    // [out_channels], or empty for no bias
};

// Inference-mode batch normalisation: y = scale * (x - mean) / sqrt(var + epsilon) + shift.
// FoldBatchNorm() removes it when it follows a convolution.
struct BatchNormAttrs {
  float epsilon = 1e-5f;
  std::vector<float> scale, shift, mean, variance;  // [channels] each
};

struct PoolAttrs {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 4> pads{0, 0, 0, 0};  // {top, left, bottom, right}
  // Average pooling only: whether padded positions count in the divisor (ONNX
  // count_include_pad). Max pooling ignores padding.
  bool count_include_pad = false;
};

// y = x · weightᵀ + bias, on a rank-1 per-sample input (ONNX Gemm with transB = 1).
struct DenseAttrs {
  std::int64_t out_features = 0;
  std::vector<float> weight;  // [out_features, in_features]
  std::vector<float> bias;    // [out_features], or empty
};

// Flatten keeps the batch dimension and collapses the rest (ONNX Flatten with axis = 1).
// Softmax works over the last per-sample axis of a rank-1 per-sample value.
using NodeAttrs = std::variant<std::monostate, Conv2DAttrs, BatchNormAttrs, PoolAttrs, DenseAttrs>;

struct Node {
  std::string name;
  OpKind op = OpKind::kRelu;
  std::vector<ValueId> inputs;  // one activation input; two for Add
  ValueId output = -1;
  NodeAttrs attrs;
};

struct Value {
  std::string name;
  Shape shape;  // per sample, filled by InferShapes()
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  ValueId input = -1;
  ValueId output = -1;

  // Adds a value and returns its id.
  ValueId AddValue(std::string value_name, Shape shape = {});
  // Appends a node producing a new value named after the node; returns the output value id.
  ValueId AddNode(std::string node_name, OpKind op, std::vector<ValueId> node_inputs,
                  NodeAttrs node_attrs = {});

  const Shape& input_shape() const { return values.at(input).shape; }
  const Shape& output_shape() const { return values.at(output).shape; }
  // Multiply-accumulates per sample in Conv2D and Dense nodes (what FLOP/s figures use: 2 per MAC).
  // Throws Error(kInvalidArgument) when the count does not fit in int64.
  std::int64_t MacsPerSample() const;
  std::int64_t ParameterCount() const;
};

// Computes every value's shape from the input's and checks every node (arity, attribute sizes,
// parameter sizes, shape compatibility) and that every per-sample element count fits in int64.
// Throws Error(kInvalidArgument) naming the node, its op and what was expected.
void InferShapes(Graph& graph);

// Folds each BatchNorm that directly follows a Conv2D (whose output has no other consumer) into
// that convolution's weights and bias, then removes it. A BatchNorm anywhere else is kept.
void FoldBatchNorm(Graph& graph);

// Number of nodes that read each value (indexed by ValueId); the graph output counts as a reader.
std::vector<int> ConsumerCounts(const Graph& graph);

}  // namespace sonic
