#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace sonic {

// The network as a small graph IR that every backend consumes. Conventions:
// - Activations are float32 in plain row-major layout (NCHW for images). Shapes in the graph are
//   per sample, of any rank (C x H x W for images, particles x features for a particle-flow net):
//   the batch dimension is implicit and comes first at run time, so one Graph compiles for any
//   batch size. Every axis an attribute names is a per-sample axis (0 is the first after batch).
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
  kActivation,  // ActivationAttrs: an elementwise function other than ReLU
  kBinary,      // BinaryAttrs: Add/Sub/Mul/Div with NumPy broadcasting, of two values or a constant
  kConcat,      // AxisAttrs: two or more values joined along one axis
  kTranspose,   // TransposeAttrs
  kReshape,     // ReshapeAttrs: the same elements in another shape (Reshape, Squeeze, Unsqueeze)
  kMatMul,      // two values: matrix products over the last two axes, leading axes broadcast
  kReduce,      // ReduceAttrs
  kPad,         // PadAttrs: constant padding
  kGather,      // GatherAttrs: constant indices along one axis
  kGlobalMaxPool,
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
  // ONNX ceil_mode: the output size rounds up, with a last window that starts inside the input
  // or its begin padding (PyTorch's rule); windows past the end padding read nothing there.
  bool ceil_mode = false;
};

// y = x · weightᵀ + bias over the last axis of the input (ONNX Gemm with transB = 1 on rank 1;
// MatMul by a constant on higher ranks, e.g. the same layer applied to every particle).
struct DenseAttrs {
  std::int64_t out_features = 0;
  std::vector<float> weight;  // [out_features, in_features]
  std::vector<float> bias;    // [out_features], or empty
};

enum class ActivationKind { kClip, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kLeakyRelu, kElu };
std::string_view ActivationKindName(ActivationKind kind);

// Clip: min(max(x, alpha), beta). HardSigmoid: max(0, min(1, alpha·x + beta)).
// HardSwish: x · max(0, min(1, x / 6 + 1 / 2)). LeakyRelu: x < 0 ? alpha·x : x.
// Elu: x < 0 ? alpha·(exp(x) − 1) : x. Sigmoid and Tanh take no parameter.
struct ActivationAttrs {
  ActivationKind kind = ActivationKind::kSigmoid;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// The activation at one point, in double: the reference backend's definition and every
// backend's test oracle.
double ApplyActivation(const ActivationAttrs& activation, double x);

enum class BinaryKind { kAdd, kSub, kMul, kDiv };
std::string_view BinaryKindName(BinaryKind kind);
double ApplyBinary(BinaryKind kind, double a, double b);

// Two inputs: both values. One input: the other operand is `constant`, of per-sample shape
// `constant_shape` (the output's rank, 1 where it broadcasts; it has no batch axis), on the left
// when `constant_first` (matters for Sub and Div). Shapes broadcast as in NumPy, per sample.
struct BinaryAttrs {
  BinaryKind kind = BinaryKind::kAdd;
  std::vector<float> constant;
  Shape constant_shape;
  bool constant_first = false;
};

struct AxisAttrs {
  std::int64_t axis = 0;
};

// Output axis i is input axis perm[i].
struct TransposeAttrs {
  std::vector<std::int64_t> perm;
};

struct ReshapeAttrs {
  Shape shape;  // the output's per-sample shape, every dimension resolved
};

enum class ReduceKind { kMean, kSum, kMax };
std::string_view ReduceKindName(ReduceKind kind);

struct ReduceAttrs {
  ReduceKind kind = ReduceKind::kMean;
  std::vector<std::int64_t> axes;  // sorted, distinct
  bool keep_dims = true;
};

struct PadAttrs {
  std::vector<std::int64_t> begin, end;  // per axis, non-negative
  float value = 0.0f;
};

// out = x[..., indices, ...] along `axis`; the indices' shape replaces that axis (a scalar
// index, indices_shape empty, removes it). Indices are in [0, size of the axis).
struct GatherAttrs {
  std::int64_t axis = 0;
  std::vector<std::int64_t> indices;
  Shape indices_shape;
};

// Flatten keeps the batch dimension and collapses the rest (ONNX Flatten with axis = 1).
// Softmax works over the last axis. BatchNorm's channels are axis 0.
using NodeAttrs = std::variant<std::monostate, Conv2DAttrs, BatchNormAttrs, PoolAttrs, DenseAttrs,
                               ActivationAttrs, BinaryAttrs, AxisAttrs, TransposeAttrs,
                               ReshapeAttrs, ReduceAttrs, PadAttrs, GatherAttrs>;

struct Node {
  std::string name;
  OpKind op = OpKind::kRelu;
  std::vector<ValueId> inputs;  // one activation input; two for Add, MatMul, Binary; n for Concat
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
  // Multiply-accumulates per sample in Conv2D, Dense and MatMul nodes (what FLOP/s figures use:
  // 2 per MAC).
  // Throws Error(kInvalidArgument) when the count does not fit in int64.
  std::int64_t MacsPerSample() const;
  std::int64_t ParameterCount() const;
};

// The op as a user wrote it: the activation, binary or reduction kind ("Sigmoid", "Mul",
// "ReduceSum") where the IR groups several, else OpKindName.
std::string_view OpLabel(const Node& node);

// Computes every value's shape from the input's and checks every node (arity, attribute sizes,
// parameter sizes, shape compatibility) and that every per-sample element count fits in int64.
// Throws Error(kInvalidArgument) naming the node, its op and what was expected.
void InferShapes(Graph& graph);

// Folds each BatchNorm that directly follows a Conv2D (whose output has no other consumer) into
// that convolution's weights and bias, then removes it. A BatchNorm anywhere else is kept.
void FoldBatchNorm(Graph& graph);

// The NumPy broadcast of two shapes (aligned at the last axis), or nullopt when a pair of
// dimensions differs and neither is 1.
std::optional<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// Row-major strides of `shape`, in elements.
std::vector<std::int64_t> Strides(const Shape& shape);

// Number of nodes that read each value (indexed by ValueId); the graph output counts as a reader.
std::vector<int> ConsumerCounts(const Graph& graph);

}  // namespace sonic
