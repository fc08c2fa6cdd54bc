#include "models/graph.h"

#include <cmath>
#include <utility>

#include "core/error.h"

namespace sonic {
namespace {

std::string NodeLabel(const Node& node) {
  return fmt::format("node '{}' ({})", node.name, OpKindName(node.op));
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
                          std::int64_t pad_end) {
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
  return span / stride + 1;
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
          WindowOutput(node, in[1], pool.kernel[0], pool.stride[0], 1, pool.pads[0], pool.pads[2]),
          WindowOutput(node, in[2], pool.kernel[1], pool.stride[1], 1, pool.pads[1], pool.pads[3])};
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
      const Shape& in = RequireRank(node, graph, node.inputs[0], 3);
      for (const auto* param : {&bn.scale, &bn.shift, &bn.mean, &bn.variance}) {
        ExpectSize(node, "a batch-norm parameter", param->size(), in[0]);
      }
      return in;
    }
    case OpKind::kRelu:
      ExpectInputs(node, 1);
      return graph.values[node.inputs[0]].shape;
    case OpKind::kMaxPool:
    case OpKind::kAveragePool:
      return InferPool(graph, node);
    case OpKind::kGlobalAveragePool: {
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
    case OpKind::kDense: {
      ExpectInputs(node, 1);
      const auto& dense = RequireAttrs<DenseAttrs>(node);
      const Shape& in = RequireRank(node, graph, node.inputs[0], 1);
      if (dense.out_features <= 0) NodeError(node, "out_features must be positive");
      ExpectSize(node, "weight", dense.weight.size(),
                 CheckedMultiply(dense.out_features, in[0], NodeLabel(node) + " weight"));
      if (!dense.bias.empty()) ExpectSize(node, "bias", dense.bias.size(), dense.out_features);
      return {dense.out_features};
    }
    case OpKind::kSoftmax:
      ExpectInputs(node, 1);
      return RequireRank(node, graph, node.inputs[0], 1);
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
  }
  return "Unknown";
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
      macs = CheckedAdd(macs, static_cast<std::int64_t>(dense->weight.size()), what);
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
