#include "models/graph.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"

namespace sonic {
namespace {

std::string NodeLabel(const Node& node) {
  return fmt::format("node '{}' ({})", node.name, OpLabel(node));
}

[[noreturn]] void NodeError(const Node& node, const std::string& message) {
  Throw(ErrorKind::kInvalidArgument, "{}: {}", NodeLabel(node), message);
}

void ExpectInputs(const Node& node, std::size_t count) {
  if (node.inputs.size() != count) {
    NodeError(node, fmt::format("expected {} input(s), got {}", count, node.inputs.size()));
  }
}

std::int64_t WindowOutput(const Node& node, std::int64_t size, std::int64_t kernel,
                          std::int64_t stride, std::int64_t dilation, std::int64_t pad_begin,
                          std::int64_t pad_end, bool ceil_mode = false) {
  if (kernel <= 0 || stride <= 0 || dilation <= 0 || pad_begin < 0 || pad_end < 0) {
    NodeError(node, fmt::format("kernel {}, stride {}, dilation {} must be positive and pads "
                                "{}, {} non-negative",
                                kernel, stride, dilation, pad_begin, pad_end));
  }
  const std::string what = NodeLabel(node) + " window";
  const std::int64_t extent = CheckedAdd(CheckedMultiply(dilation, kernel - 1, what), 1, what);
  const std::int64_t span = CheckedAdd(CheckedAdd(size, pad_begin, what), pad_end, what) - extent;
  if (span < 0) {
    NodeError(node, fmt::format("window of extent {} does not fit an input of size {} with pads "
                                "{}+{}",
                                extent, size, pad_begin, pad_end));
  }
  if (!ceil_mode) return span / stride + 1;
  std::int64_t out = (span + stride - 1) / stride + 1;
  // The last window must start inside the input or its begin padding.
  if ((out - 1) * stride >= size + pad_begin) --out;
  return out;
}

const Shape& RequireRank(const Node& node, const Graph& graph, ValueId id, std::size_t rank) {
  const Shape& shape = graph.values.at(id).shape;
  if (shape.size() != rank) {
    NodeError(node, fmt::format("input '{}' has shape {}: expected rank {} per sample",
                                graph.values.at(id).name, ShapeToString(shape), rank));
  }
  return shape;
}

template <typename Attrs>
const Attrs& RequireAttrs(const Node& node) {
  const Attrs* attrs = std::get_if<Attrs>(&node.attrs);
  if (attrs == nullptr) NodeError(node, "attributes missing or of the wrong kind");
  return *attrs;
}

void ExpectSize(const Node& node, std::string_view what, std::size_t actual, std::size_t expected) {
  if (actual != expected) {
    NodeError(node, fmt::format("{} has {} values: expected {}", what, actual, expected));
  }
}

Shape InferConv(const Graph& graph, const Node& node) {
  ExpectInputs(node, 1);
  const auto& conv = RequireAttrs<Conv2DAttrs>(node);
  const Shape& in = RequireRank(node, graph, node.inputs[0], 3);
  if (conv.groups <= 0 || in[0] % conv.groups != 0 || conv.out_channels % conv.groups != 0 ||
      conv.out_channels <= 0) {
    NodeError(node, fmt::format("{} input and {} output channels are not divisible into {} groups",
                                in[0], conv.out_channels, conv.groups));
  }
  // The windows first: they check that the kernel sizes are positive.
  Shape out{conv.out_channels,
            WindowOutput(node, in[1], conv.kernel[0], conv.stride[0], conv.dilation[0],
                         conv.pads[0], conv.pads[2]),
            WindowOutput(node, in[2], conv.kernel[1], conv.stride[1], conv.dilation[1],
                         conv.pads[1], conv.pads[3])};
  const Shape weight_shape{conv.out_channels, in[0] / conv.groups, conv.kernel[0], conv.kernel[1]};
  ExpectSize(node, "weight", conv.weight.size(),
             NumElements(weight_shape, NodeLabel(node) + " weight"));
  if (!conv.bias.empty()) ExpectSize(node, "bias", conv.bias.size(), conv.out_channels);
  return out;
}

Shape InferPool(const Graph& graph, const Node& node) {
  ExpectInputs(node, 1);
  const auto& pool = RequireAttrs<PoolAttrs>(node);
  const Shape& in = RequireRank(node, graph, node.inputs[0], 3);
  for (int axis = 0; axis < 2; ++axis) {
    if (pool.pads[axis] >= pool.kernel[axis] || pool.pads[axis + 2] >= pool.kernel[axis]) {
      NodeError(node, fmt::format("pads {} must be smaller than the kernel {} on every side",
                                  ShapeToString(pool.pads), ShapeToString(pool.kernel)));
    }
  }
  return {in[0],
          WindowOutput(node, in[1], pool.kernel[0], pool.stride[0], 1, pool.pads[0], pool.pads[2],
                       pool.ceil_mode),
          WindowOutput(node, in[2], pool.kernel[1], pool.stride[1], 1, pool.pads[1], pool.pads[3],
                       pool.ceil_mode)};
}

const Shape& RequireMinRank(const Node& node, const Graph& graph, ValueId id, std::size_t rank) {
  const Shape& shape = graph.values.at(id).shape;
  if (shape.size() < rank) {
    NodeError(node, fmt::format("input '{}' has shape {}: expected rank {} or more per sample",
                                graph.values.at(id).name, ShapeToString(shape), rank));
  }
  return shape;
}

void ExpectAxis(const Node& node, std::int64_t axis, std::size_t rank) {
  if (axis < 0 || axis >= static_cast<std::int64_t>(rank)) {
    NodeError(node, fmt::format("axis {} is outside the {} per-sample axes", axis, rank));
  }
}

Shape InferBinary(const Graph& graph, const Node& node) {
  const auto& binary = RequireAttrs<BinaryAttrs>(node);
  const Shape& a = graph.values[node.inputs.at(0)].shape;
  if (binary.constant.empty()) {
    ExpectInputs(node, 2);
  } else {
    ExpectInputs(node, 1);
    ExpectSize(node, "constant", binary.constant.size(),
               NumElements(binary.constant_shape, NodeLabel(node) + " constant"));
  }
  const Shape& b =
      binary.constant.empty() ? graph.values[node.inputs[1]].shape : binary.constant_shape;
  std::optional<Shape> out = BroadcastShapes(a, b);
  if (!out) {
    NodeError(node, fmt::format("operands of shapes {} and {} do not broadcast", ShapeToString(a),
                                ShapeToString(b)));
  }
  if (!binary.constant.empty() && binary.constant_shape.size() != out->size()) {
    NodeError(node, fmt::format("constant shape {} must have the output's rank {}",
                                ShapeToString(binary.constant_shape), out->size()));
  }
  return *out;
}

Shape InferConcat(const Graph& graph, const Node& node) {
  if (node.inputs.empty()) NodeError(node, "expected at least one input");
  const auto& concat = RequireAttrs<AxisAttrs>(node);
  Shape out = graph.values[node.inputs[0]].shape;
  ExpectAxis(node, concat.axis, out.size());
  for (std::size_t k = 1; k < node.inputs.size(); ++k) {
    const Shape& in = graph.values[node.inputs[k]].shape;
    bool same = in.size() == out.size();
    for (std::size_t d = 0; same && d < in.size(); ++d) {
      same = static_cast<std::int64_t>(d) == concat.axis || in[d] == out[d];
    }
    if (!same) {
      NodeError(node, fmt::format("input {} has shape {}: expected {} except along axis {}", k,
                                  ShapeToString(in), ShapeToString(out), concat.axis));
    }
    out[concat.axis] = CheckedAdd(out[concat.axis], in[concat.axis], NodeLabel(node));
  }
  return out;
}

Shape InferTranspose(const Graph& graph, const Node& node) {
  ExpectInputs(node, 1);
  const auto& transpose = RequireAttrs<TransposeAttrs>(node);
  const Shape& in = graph.values[node.inputs[0]].shape;
  std::vector<bool> seen(in.size(), false);
  Shape out;
  for (std::int64_t axis : transpose.perm) {
    if (axis < 0 || axis >= static_cast<std::int64_t>(in.size()) || seen[axis]) {
      NodeError(node, fmt::format("perm {} is not a permutation of the {} per-sample axes",
                                  ShapeToString(transpose.perm), in.size()));
    }
    seen[axis] = true;
    out.push_back(in[axis]);
  }
  if (out.size() != in.size()) {
    NodeError(node, fmt::format("perm {} has {} entries: expected {}",
                                ShapeToString(transpose.perm), out.size(), in.size()));
  }
  return out;
}

Shape InferMatMul(const Graph& graph, const Node& node) {
  ExpectInputs(node, 2);
  const Shape& a = RequireMinRank(node, graph, node.inputs[0], 2);
  const Shape& b = RequireMinRank(node, graph, node.inputs[1], 2);
  if (a.back() != b[b.size() - 2]) {
    NodeError(node, fmt::format("operands of shapes {} and {}: the inner dimensions differ",
                                ShapeToString(a), ShapeToString(b)));
  }
  const std::optional<Shape> leading =
      BroadcastShapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!leading) {
    NodeError(node, fmt::format("operands of shapes {} and {}: the leading axes do not broadcast",
                                ShapeToString(a), ShapeToString(b)));
  }
  Shape out = *leading;
  out.push_back(a[a.size() - 2]);
  out.push_back(b.back());
  return out;
}

Shape InferReduce(const Graph& graph, const Node& node) {
  ExpectInputs(node, 1);
  const auto& reduce = RequireAttrs<ReduceAttrs>(node);
  const Shape& in = graph.values[node.inputs[0]].shape;
  if (reduce.axes.empty()) NodeError(node, "expected at least one axis");
  Shape out;
  std::size_t next = 0;
  for (std::size_t d = 0; d < in.size(); ++d) {
    const bool reduced =
        next < reduce.axes.size() && reduce.axes[next] == static_cast<std::int64_t>(d);
    if (reduced) {
      ++next;
      if (reduce.keep_dims) out.push_back(1);
    } else {
      out.push_back(in[d]);
    }
  }
  if (next != reduce.axes.size()) {
    NodeError(node, fmt::format("axes {} must be sorted, distinct and within the {} per-sample "
                                "axes",
                                ShapeToString(reduce.axes), in.size()));
  }
  return out;
}

Shape InferPad(const Graph& graph, const Node& node) {
  ExpectInputs(node, 1);
  const auto& pad = RequireAttrs<PadAttrs>(node);
  const Shape& in = graph.values[node.inputs[0]].shape;
  if (pad.begin.size() != in.size() || pad.end.size() != in.size()) {
    NodeError(node,
              fmt::format("pads {} and {} must have one entry per axis of {}",
                          ShapeToString(pad.begin), ShapeToString(pad.end), ShapeToString(in)));
  }
  Shape out = in;
  for (std::size_t d = 0; d < in.size(); ++d) {
    if (pad.begin[d] < 0 || pad.end[d] < 0) {
      NodeError(node, fmt::format("pads {} and {} must be non-negative", ShapeToString(pad.begin),
                                  ShapeToString(pad.end)));
    }
    out[d] =
        CheckedAdd(CheckedAdd(in[d], pad.begin[d], NodeLabel(node)), pad.end[d], NodeLabel(node));
  }
  return out;
}

Shape InferGather(const Graph& graph, const Node& node) {
  ExpectInputs(node, 1);
  const auto& gather = RequireAttrs<GatherAttrs>(node);
  const Shape& in = graph.values[node.inputs[0]].shape;
  ExpectAxis(node, gather.axis, in.size());
  ExpectSize(node, "indices", gather.indices.size(),
             NumElements(gather.indices_shape, NodeLabel(node) + " indices"));
  for (std::int64_t index : gather.indices) {
    if (index < 0 || index >= in[gather.axis]) {
      NodeError(node, fmt::format("index {} is outside axis {} of size {}", index, gather.axis,
                                  in[gather.axis]));
    }
  }
  Shape out(in.begin(), in.begin() + gather.axis);
  out.insert(out.end(), gather.indices_shape.begin(), gather.indices_shape.end());
  out.insert(out.end(), in.begin() + gather.axis + 1, in.end());
  if (out.empty()) NodeError(node, "the output would have no per-sample axis");
  return out;
}

Shape InferDense(const Graph& graph, const Node& node) {
  ExpectInputs(node, 1);
  const auto& dense = RequireAttrs<DenseAttrs>(node);
  const Shape& in = RequireMinRank(node, graph, node.inputs[0], 1);
  if (dense.out_features <= 0) NodeError(node, "out_features must be positive");
  ExpectSize(node, "weight", dense.weight.size(),
             CheckedMultiply(dense.out_features, in.back(), NodeLabel(node) + " weight"));
  if (!dense.bias.empty()) ExpectSize(node, "bias", dense.bias.size(), dense.out_features);
  Shape out = in;
  out.back() = dense.out_features;
  return out;
}

Shape InferNode(const Graph& graph, const Node& node) {
  for (ValueId id : node.inputs) {
    if (id < 0 || id >= static_cast<ValueId>(graph.values.size())) {
      NodeError(node, fmt::format("input value id {} does not exist", id));
    }
  }
  switch (node.op) {
    case OpKind::kConv2D:
      return InferConv(graph, node);
    case OpKind::kBatchNorm: {
      ExpectInputs(node, 1);
      const auto& bn = RequireAttrs<BatchNormAttrs>(node);
      const Shape& in = RequireMinRank(node, graph, node.inputs[0], 1);
      for (const auto* param : {&bn.scale, &bn.shift, &bn.mean, &bn.variance}) {
        ExpectSize(node, "a batch-norm parameter", param->size(), in[0]);
      }
      return in;
    }
    case OpKind::kRelu:
    case OpKind::kActivation:
      ExpectInputs(node, 1);
      if (node.op == OpKind::kActivation) RequireAttrs<ActivationAttrs>(node);
      return graph.values[node.inputs[0]].shape;
    case OpKind::kMaxPool:
    case OpKind::kAveragePool:
      return InferPool(graph, node);
    case OpKind::kGlobalAveragePool:
    case OpKind::kGlobalMaxPool: {
      ExpectInputs(node, 1);
      const Shape& in = RequireRank(node, graph, node.inputs[0], 3);
      return {in[0], 1, 1};
    }
    case OpKind::kAdd: {
      ExpectInputs(node, 2);
      const Shape& a = graph.values[node.inputs[0]].shape;
      const Shape& b = graph.values[node.inputs[1]].shape;
      if (a != b) {
        NodeError(node, fmt::format("operands have shapes {} and {}: expected equal shapes (no "
                                    "broadcasting)",
                                    ShapeToString(a), ShapeToString(b)));
      }
      return a;
    }
    case OpKind::kFlatten: {
      ExpectInputs(node, 1);
      return {NumElements(graph.values[node.inputs[0]].shape, NodeLabel(node) + " input")};
    }
    case OpKind::kDense:
      return InferDense(graph, node);
    case OpKind::kSoftmax:
      ExpectInputs(node, 1);
      return RequireMinRank(node, graph, node.inputs[0], 1);
    case OpKind::kBinary:
      return InferBinary(graph, node);
    case OpKind::kConcat:
      return InferConcat(graph, node);
    case OpKind::kTranspose:
      return InferTranspose(graph, node);
    case OpKind::kReshape: {
      ExpectInputs(node, 1);
      const auto& reshape = RequireAttrs<ReshapeAttrs>(node);
      const Shape& in = graph.values[node.inputs[0]].shape;
      if (reshape.shape.empty() ||
          NumElements(reshape.shape, NodeLabel(node)) != NumElements(in, NodeLabel(node))) {
        NodeError(node, fmt::format("cannot reshape {} to {}: expected the same number of "
                                    "elements and at least one axis",
                                    ShapeToString(in), ShapeToString(reshape.shape)));
      }
      return reshape.shape;
    }
    case OpKind::kMatMul:
      return InferMatMul(graph, node);
    case OpKind::kReduce:
      return InferReduce(graph, node);
    case OpKind::kPad:
      return InferPad(graph, node);
    case OpKind::kGather:
      return InferGather(graph, node);
  }
  NodeError(node, "unknown op");
}

}  // namespace

std::string_view OpKindName(OpKind op) {
  switch (op) {
    case OpKind::kConv2D:
      return "Conv2D";
    case OpKind::kBatchNorm:
      return "BatchNorm";
    case OpKind::kRelu:
      return "Relu";
    case OpKind::kMaxPool:
      return "MaxPool";
    case OpKind::kAveragePool:
      return "AveragePool";
    case OpKind::kGlobalAveragePool:
      return "GlobalAveragePool";
    case OpKind::kAdd:
      return "Add";
    case OpKind::kFlatten:
      return "Flatten";
    case OpKind::kDense:
      return "Dense";
    case OpKind::kSoftmax:
      return "Softmax";
    case OpKind::kActivation:
      return "Activation";
    case OpKind::kBinary:
      return "Binary";
    case OpKind::kConcat:
      return "Concat";
    case OpKind::kTranspose:
      return "Transpose";
    case OpKind::kReshape:
      return "Reshape";
    case OpKind::kMatMul:
      return "MatMul";
    case OpKind::kReduce:
      return "Reduce";
    case OpKind::kPad:
      return "Pad";
    case OpKind::kGather:
      return "Gather";
    case OpKind::kGlobalMaxPool:
      return "GlobalMaxPool";
  }
  return "Unknown";
}

std::string_view OpLabel(const Node& node) {
  if (const auto* activation = std::get_if<ActivationAttrs>(&node.attrs)) {
    return ActivationKindName(activation->kind);
  }
  if (const auto* binary = std::get_if<BinaryAttrs>(&node.attrs)) {
    return BinaryKindName(binary->kind);
  }
  if (const auto* reduce = std::get_if<ReduceAttrs>(&node.attrs)) {
    return ReduceKindName(reduce->kind);
  }
  return OpKindName(node.op);
}

std::string_view ActivationKindName(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kClip:
      return "Clip";
    case ActivationKind::kSigmoid:
      return "Sigmoid";
    case ActivationKind::kHardSigmoid:
      return "HardSigmoid";
    case ActivationKind::kHardSwish:
      return "HardSwish";
    case ActivationKind::kTanh:
      return "Tanh";
    case ActivationKind::kLeakyRelu:
      return "LeakyRelu";
    case ActivationKind::kElu:
      return "Elu";
  }
  return "Unknown";
}

double ApplyActivation(const ActivationAttrs& activation, double x) {
  switch (activation.kind) {
    case ActivationKind::kClip:
      return std::min(std::max(x, double{activation.alpha}), double{activation.beta});
    case ActivationKind::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case ActivationKind::kHardSigmoid:
      return std::clamp(activation.alpha * x + activation.beta, 0.0, 1.0);
    case ActivationKind::kHardSwish:
      return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case ActivationKind::kTanh:
      return std::tanh(x);
    case ActivationKind::kLeakyRelu:
      return x < 0.0 ? activation.alpha * x : x;
    case ActivationKind::kElu:
      return x < 0.0 ? activation.alpha * std::expm1(x) : x;
  }
  return x;
}

std::string_view BinaryKindName(BinaryKind kind) {
  switch (kind) {
    case BinaryKind::kAdd:
      return "Add";
    case BinaryKind::kSub:
      return "Sub";
    case BinaryKind::kMul:
      return "Mul";
    case BinaryKind::kDiv:
      return "Div";
  }
  return "Unknown";
}

double ApplyBinary(BinaryKind kind, double a, double b) {
  switch (kind) {
    case BinaryKind::kAdd:
      return a + b;
    case BinaryKind::kSub:
      return a - b;
    case BinaryKind::kMul:
      return a * b;
    case BinaryKind::kDiv:
      return a / b;
  }
  return a;
}

std::string_view ReduceKindName(ReduceKind kind) {
  switch (kind) {
    case ReduceKind::kMean:
      return "ReduceMean";
    case ReduceKind::kSum:
      return "ReduceSum";
    case ReduceKind::kMax:
      return "ReduceMax";
  }
  return "Unknown";
}

std::optional<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const std::int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<std::int64_t> Strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

ValueId Graph::AddValue(std::string value_name, Shape shape) {
  values.push_back({std::move(value_name), std::move(shape)});
  return static_cast<ValueId>(values.size() - 1);
}

ValueId Graph::AddNode(std::string node_name, OpKind op, std::vector<ValueId> node_inputs,
                       NodeAttrs node_attrs) {
  const ValueId out = AddValue(node_name);
  nodes.push_back({std::move(node_name), op, std::move(node_inputs), out, std::move(node_attrs)});
  return out;
}

std::int64_t Graph::MacsPerSample() const {
  const std::string what = fmt::format("graph '{}' multiply-accumulates per sample", name);
  std::int64_t macs = 0;
  for (const Node& node : nodes) {
    if (const auto* conv = std::get_if<Conv2DAttrs>(&node.attrs)) {
      const Shape& out = values.at(node.output).shape;
      const Shape per_conv{static_cast<std::int64_t>(conv->weight.size()), out.at(1), out.at(2)};
      macs = CheckedAdd(macs, NumElements(per_conv, what), what);
    } else if (const auto* dense = std::get_if<DenseAttrs>(&node.attrs)) {
      // The layer runs once per position of the leading axes.
      const std::int64_t positions =
          NumElements(values.at(node.output).shape, what) / dense->out_features;
      macs = CheckedAdd(
          macs, CheckedMultiply(static_cast<std::int64_t>(dense->weight.size()), positions, what),
          what);
    } else if (node.op == OpKind::kMatMul) {
      const std::int64_t inner = values.at(node.inputs[0]).shape.back();
      macs = CheckedAdd(
          macs, CheckedMultiply(NumElements(values.at(node.output).shape, what), inner, what),
          what);
    }
  }
  return macs;
}

std::int64_t Graph::ParameterCount() const {
  std::int64_t count = 0;
  for (const Node& node : nodes) {
    if (const auto* conv = std::get_if<Conv2DAttrs>(&node.attrs)) {
      count += conv->weight.size() + conv->bias.size();
    } else if (const auto* dense = std::get_if<DenseAttrs>(&node.attrs)) {
      count += dense->weight.size() + dense->bias.size();
    } else if (const auto* bn = std::get_if<BatchNormAttrs>(&node.attrs)) {
      count += bn->scale.size() + bn->shift.size();
    } else if (const auto* binary = std::get_if<BinaryAttrs>(&node.attrs)) {
      count += binary->constant.size();
    }
  }
  return count;
}

void InferShapes(Graph& graph) {
  if (graph.input < 0 || graph.input >= static_cast<ValueId>(graph.values.size())) {
    Throw(ErrorKind::kInvalidArgument, "graph '{}' has no input value", graph.name);
  }
  if (graph.output < 0 || graph.output >= static_cast<ValueId>(graph.values.size())) {
    Throw(ErrorKind::kInvalidArgument, "graph '{}' has no output value", graph.name);
  }
  const Shape& in = graph.values[graph.input].shape;
  const std::string input_label =
      fmt::format("graph '{}' input '{}'", graph.name, graph.values[graph.input].name);
  if (in.empty() || NumElements(in, input_label) <= 0) {
    Throw(ErrorKind::kInvalidArgument,
          "{} has shape {}: expected a non-empty per-sample shape such as [3, 224, 224]",
          input_label, ShapeToString(in));
  }
  std::vector<bool> defined(graph.values.size(), false);
  defined[graph.input] = true;
  for (const Node& node : graph.nodes) {
    for (ValueId id : node.inputs) {
      if (id >= 0 && id < static_cast<ValueId>(defined.size()) && !defined[id]) {
        NodeError(node, fmt::format("reads value '{}' before any node produces it",
                                    graph.values[id].name));
      }
    }
    if (node.output < 0 || node.output >= static_cast<ValueId>(graph.values.size()) ||
        defined[node.output]) {
      NodeError(node, "output value is missing or produced twice");
    }
    graph.values[node.output].shape = InferNode(graph, node);
    // Every per-sample size in the graph is then a valid count that backends may multiply by a
    // batch size with CheckedMultiply.
    NumElements(graph.values[node.output].shape, NodeLabel(node) + " output");
    defined[node.output] = true;
  }
  if (!defined[graph.output]) {
    Throw(ErrorKind::kInvalidArgument, "graph '{}' output '{}' is produced by no node", graph.name,
          graph.values[graph.output].name);
  }
}

std::vector<int> ConsumerCounts(const Graph& graph) {
  std::vector<int> counts(graph.values.size(), 0);
  for (const Node& node : graph.nodes) {
    for (ValueId id : node.inputs) ++counts.at(id);
  }
  ++counts.at(graph.output);
  return counts;
}

void FoldBatchNorm(Graph& graph) {
  const std::vector<int> consumers = ConsumerCounts(graph);
  std::vector<int> producer(graph.values.size(), -1);
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) producer[graph.nodes[i].output] = i;

  std::vector<bool> removed(graph.nodes.size(), false);
  std::vector<ValueId> alias(graph.values.size());
  for (std::size_t v = 0; v < alias.size(); ++v) alias[v] = static_cast<ValueId>(v);

  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& bn_node = graph.nodes[i];
    if (bn_node.op != OpKind::kBatchNorm) continue;
    const ValueId conv_out = bn_node.inputs.at(0);
    const int conv_index = producer[conv_out];
    if (conv_index < 0 || graph.nodes[conv_index].op != OpKind::kConv2D ||
        consumers[conv_out] != 1 || bn_node.output == graph.output) {
      continue;
    }
    auto& conv = std::get<Conv2DAttrs>(graph.nodes[conv_index].attrs);
    const auto& bn = std::get<BatchNormAttrs>(bn_node.attrs);
    const std::size_t per_channel = conv.weight.size() / conv.out_channels;
    if (conv.bias.empty()) conv.bias.assign(conv.out_channels, 0.0f);
    for (std::int64_t c = 0; c < conv.out_channels; ++c) {
      const double factor = bn.scale[c] / std::sqrt(double{bn.variance[c]} + bn.epsilon);
      for (std::size_t k = 0; k < per_channel; ++k) {
        conv.weight[c * per_channel + k] =
            static_cast<float>(conv.weight[c * per_channel + k] * factor);
      }
      conv.bias[c] = static_cast<float>((conv.bias[c] - bn.mean[c]) * factor + bn.shift[c]);
    }
    // Readers of the batch-norm output now read the convolution output.
    alias[bn_node.output] = conv_out;
    removed[i] = true;
  }

  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    if (removed[i]) continue;
    Node node = std::move(graph.nodes[i]);
    for (ValueId& id : node.inputs) id = alias[id];
    kept.push_back(std::move(node));
  }
  graph.nodes = std::move(kept);
  graph.output = alias[graph.output];
}

}  // namespace sonic
