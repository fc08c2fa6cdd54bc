#include "models/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/file.h"

namespace sonic {
namespace {

constexpr std::string_view kSupportedOps =
    "Conv, BatchNormalization, Relu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, LeakyRelu, Elu, "
    "MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Add, Sub, Mul, Div, Concat, "
    "Transpose, Flatten, Reshape, Squeeze, Unsqueeze, Gemm, MatMul, Softmax, ReduceMean, "
    "ReduceSum, ReduceMax, Pad, Gather, Identity, Dropout, Constant";

std::string DataTypeLabel(int data_type) {
  if (onnx::TensorProto::DataType_IsValid(data_type)) {
    return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(data_type));
  }
  return fmt::format("unknown data type {}", data_type);
}

Shape Dims(const onnx::TensorProto& tensor) { return {tensor.dims().begin(), tensor.dims().end()}; }

std::string TensorLabel(const onnx::TensorProto& tensor) {
  return fmt::format("tensor '{}'", tensor.name());
}

std::int64_t TensorElements(const onnx::TensorProto& tensor) {
  return NumElements(Dims(tensor), TensorLabel(tensor));
}

// A declared dimension that is symbolic (dim_param) or not given at all.
constexpr std::int64_t kSymbolicDim = -1;

void CheckEmbedded(const onnx::TensorProto& tensor) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    for (const auto& entry : tensor.external_data()) {
      if (entry.key() == "location") location = entry.value();
    }
    Throw(
        ErrorKind::kUnsupported,
        "tensor '{}' keeps its data in an external file '{}': external data is not supported; save "
        "the model with its data embedded (onnx.save(model, path, save_as_external_data=False))",
        tensor.name(), location);
  }
}

// The values of a FLOAT tensor, from raw_data (little-endian) or float_data.
std::vector<float> FloatValues(const onnx::TensorProto& tensor) {
  CheckEmbedded(tensor);
  if (tensor.data_type() != onnx::TensorProto::FLOAT) {
    Throw(ErrorKind::kUnsupported, "tensor '{}' has data type {}: parameters must be FLOAT",
          tensor.name(), DataTypeLabel(tensor.data_type()));
  }
  const std::int64_t count = TensorElements(tensor);
  std::vector<float> values;
  if (tensor.has_raw_data()) {
    const std::int64_t bytes = CheckedMultiply(count, 4, TensorLabel(tensor) + " bytes");
    if (static_cast<std::int64_t>(tensor.raw_data().size()) != bytes) {
      Throw(ErrorKind::kInvalidArgument,
            "tensor '{}' of shape {} has {} bytes of raw data: expected {}", tensor.name(),
            ShapeToString(Dims(tensor)), tensor.raw_data().size(), bytes);
    }
    values.resize(count);
    // memcpy of nothing still needs valid pointers, and an empty vector's data() may be null.
    if (count > 0) std::memcpy(values.data(), tensor.raw_data().data(), count * 4);
  } else {
    if (tensor.float_data_size() != count) {
      Throw(ErrorKind::kInvalidArgument,
            "tensor '{}' of shape {} has {} float_data values: expected {}", tensor.name(),
            ShapeToString(Dims(tensor)), tensor.float_data_size(), count);
    }
    values.assign(tensor.float_data().begin(), tensor.float_data().end());
  }
  return values;
}

// The values of an INT64 tensor (shapes, axes, pads, indices), from raw_data or int64_data; an
// INT32 one (Gather's indices may be) is widened.
std::vector<std::int64_t> Int64Values(const onnx::TensorProto& tensor) {
  CheckEmbedded(tensor);
  if (tensor.data_type() == onnx::TensorProto::INT32) {
    const std::int64_t count = TensorElements(tensor);
    std::vector<std::int32_t> narrow(count);
    if (tensor.has_raw_data() &&
        static_cast<std::int64_t>(tensor.raw_data().size()) == CheckedMultiply(count, 4, "bytes")) {
      if (count > 0) std::memcpy(narrow.data(), tensor.raw_data().data(), count * 4);
    } else if (!tensor.has_raw_data() && tensor.int32_data_size() == count) {
      narrow.assign(tensor.int32_data().begin(), tensor.int32_data().end());
    } else {
      Throw(ErrorKind::kInvalidArgument, "tensor '{}' holds the wrong number of INT32 values",
            tensor.name());
    }
    return {narrow.begin(), narrow.end()};
  }
  if (tensor.data_type() != onnx::TensorProto::INT64) {
    Throw(ErrorKind::kInvalidArgument, "tensor '{}' has data type {}: a shape must be INT64",
          tensor.name(), DataTypeLabel(tensor.data_type()));
  }
  const std::int64_t count = TensorElements(tensor);
  std::vector<std::int64_t> values;
  if (tensor.has_raw_data()) {
    const std::int64_t bytes = CheckedMultiply(count, 8, TensorLabel(tensor) + " bytes");
    if (static_cast<std::int64_t>(tensor.raw_data().size()) != bytes) {
      Throw(ErrorKind::kInvalidArgument, "tensor '{}' has {} bytes of raw data: expected {}",
            tensor.name(), tensor.raw_data().size(), bytes);
    }
    values.resize(count);
    if (count > 0) std::memcpy(values.data(), tensor.raw_data().data(), count * 8);
  } else {
    if (tensor.int64_data_size() != count) {
      Throw(ErrorKind::kInvalidArgument, "tensor '{}' has {} int64_data values: expected {}",
            tensor.name(), tensor.int64_data_size(), count);
    }
    values.assign(tensor.int64_data().begin(), tensor.int64_data().end());
  }
  return values;
}

// One ONNX node being imported: names it in every error.
struct NodeRef {
  const onnx::NodeProto& proto;
  int index;

  std::string Label() const {
    return fmt::format("node '{}' (#{}, {})", proto.name().empty() ? proto.output(0) : proto.name(),
                       index, proto.op_type());
  }
  template <typename... Args>
  [[noreturn]] void Fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) const {
    Throw(kind, "{}: {}", Label(), fmt::format(format, std::forward<Args>(args)...));
  }
};

// A node's attributes. Each handler reads the ones it understands; whatever is left afterwards
// is an attribute the importer would silently ignore, so Finish() rejects it.
class Attributes {
 public:
  explicit Attributes(const NodeRef& node) : node_(node) {
    for (const auto& attr : node.proto.attribute()) unread_[attr.name()] = &attr;
  }

  std::int64_t Int(const std::string& name, std::int64_t fallback) {
    const auto* attr = Take(name, onnx::AttributeProto::INT);
    return attr ? attr->i() : fallback;
  }
  float Float(const std::string& name, float fallback) {
    const auto* attr = Take(name, onnx::AttributeProto::FLOAT);
    return attr ? attr->f() : fallback;
  }
  std::string String(const std::string& name, const std::string& fallback) {
    const auto* attr = Take(name, onnx::AttributeProto::STRING);
    return attr ? attr->s() : fallback;
  }
  std::vector<std::int64_t> Ints(const std::string& name, std::vector<std::int64_t> fallback) {
    const auto* attr = Take(name, onnx::AttributeProto::INTS);
    return attr ? std::vector<std::int64_t>(attr->ints().begin(), attr->ints().end()) : fallback;
  }
  std::vector<float> Floats(const std::string& name) {
    const auto* attr = Take(name, onnx::AttributeProto::FLOATS);
    return attr ? std::vector<float>(attr->floats().begin(), attr->floats().end())
                : std::vector<float>{};
  }
  const onnx::TensorProto* Tensor(const std::string& name) {
    const auto* attr = Take(name, onnx::AttributeProto::TENSOR);
    return attr ? &attr->t() : nullptr;
  }
  bool Has(const std::string& name) const { return unread_.count(name) > 0; }
  // An attribute that has no effect in inference (e.g. batch-norm momentum, dropout seed).
  void Ignore(const std::string& name) { unread_.erase(name); }

  void Finish() const {
    if (!unread_.empty()) {
      node_.Fail(ErrorKind::kUnsupported, "attribute '{}' is not supported",
                 unread_.begin()->first);
    }
  }

 private:
  const onnx::AttributeProto* Take(const std::string& name,
                                   onnx::AttributeProto::AttributeType type) {
    auto it = unread_.find(name);
    if (it == unread_.end()) return nullptr;
    const onnx::AttributeProto* attr = it->second;
    unread_.erase(it);
    if (attr->type() != type) {
      node_.Fail(ErrorKind::kInvalidArgument, "attribute '{}' has type {}: expected {}", name,
                 onnx::AttributeProto::AttributeType_Name(attr->type()),
                 onnx::AttributeProto::AttributeType_Name(type));
    }
    return attr;
  }

  const NodeRef& node_;
  std::map<std::string, const onnx::AttributeProto*> unread_;
};

class Importer {
 public:
  explicit Importer(const onnx::ModelProto& model) : model_(model), onnx_graph_(model.graph()) {}

  Graph Import(std::string_view source_name) {
    CheckOpset();
    graph_.name = onnx_graph_.name().empty() ? std::filesystem::path(source_name).stem().string()
                                             : onnx_graph_.name();
    for (const auto& tensor : onnx_graph_.initializer()) constants_[tensor.name()] = &tensor;
    if (onnx_graph_.sparse_initializer_size() > 0) {
      Throw(ErrorKind::kUnsupported, "sparse initializer '{}' is not supported",
            onnx_graph_.sparse_initializer(0).values().name());
    }
    CountUses();
    ImportInput();
    for (int i = 0; i < onnx_graph_.node_size(); ++i) {
      ImportNode(NodeRef{onnx_graph_.node(i), i});
    }
    ImportOutput();
    FoldBatchNorm(graph_);
    InferShapes(graph_);
    return std::move(graph_);
  }

 private:
  void CheckOpset() {
    for (const auto& opset : model_.opset_import()) {
      if (opset.domain().empty() || opset.domain() == "ai.onnx") {
        opset_ = opset.version();
        return;
      }
    }
    Throw(ErrorKind::kInvalidArgument, "the model imports no opset of the default ONNX domain");
  }

  // ONNX readers of each value name (nodes and graph outputs): a MatMul output read only by the
  // Add that follows it can take that Add's constant as its bias.
  void CountUses() {
    for (const auto& node : onnx_graph_.node()) {
      for (const auto& name : node.input()) ++uses_[name];
    }
    for (const auto& output : onnx_graph_.output()) ++uses_[output.name()];
  }

  void ImportInput() {
    std::vector<const onnx::ValueInfoProto*> inputs;
    for (const auto& input : onnx_graph_.input()) {
      if (constants_.count(input.name()) == 0) inputs.push_back(&input);
    }
    if (inputs.size() != 1) {
      std::string names;
      for (const auto* input : inputs) names += (names.empty() ? "'" : ", '") + input->name() + "'";
      Throw(ErrorKind::kUnsupported,
            "the model has {} real inputs ({}): expected exactly one (graph inputs that are "
            "initializers do not count)",
            inputs.size(), names.empty() ? "none" : names);
    }
    const onnx::ValueInfoProto& input = *inputs[0];
    const Shape dims = TensorShape(input, "input");
    if (dims.size() < 2) {
      Throw(ErrorKind::kUnsupported,
            "input '{}' has rank {}: expected [batch, ...] with at least one per-sample dimension",
            input.name(), dims.size());
    }
    for (std::size_t d = 1; d < dims.size(); ++d) {
      if (dims[d] == kSymbolicDim) {
        Throw(ErrorKind::kUnsupported,
              "input '{}' dimension {} is symbolic: only the first (batch) dimension may be; the "
              "per-sample shape must be fixed",
              input.name(), d);
      }
    }
    declared_batch_ = dims[0];
    Shape per_sample(dims.begin() + 1, dims.end());
    NumElements(per_sample, fmt::format("input '{}' (per sample)", input.name()));
    graph_.input = graph_.AddValue(input.name(), std::move(per_sample));
    activations_[input.name()] = graph_.input;
  }

  void ImportOutput() {
    if (onnx_graph_.output_size() != 1) {
      Throw(ErrorKind::kUnsupported, "the model has {} outputs: expected exactly one",
            onnx_graph_.output_size());
    }
    const onnx::ValueInfoProto& output = onnx_graph_.output(0);
    const Shape dims = TensorShape(output, "output");
    auto it = activations_.find(output.name());
    if (it == activations_.end()) {
      Throw(ErrorKind::kInvalidArgument, "output '{}' is {}", output.name(),
            constants_.count(output.name()) ? "a constant: expected a value computed from the input"
                                            : "produced by no node");
    }
    graph_.output = it->second;
    InferShapes(graph_);
    // A declared per-sample size that disagrees with the computed one means the import changed
    // the model's meaning: fail rather than return a graph that computes something else.
    const Shape& computed = graph_.output_shape();
    bool matches = dims.empty() || dims.size() == computed.size() + 1;
    for (std::size_t d = 1; matches && d < dims.size(); ++d) {
      matches = dims[d] == kSymbolicDim || dims[d] == computed[d - 1];
    }
    if (!matches) {
      Throw(ErrorKind::kInvalidArgument,
            "output '{}' is declared with shape {} but the imported graph computes [batch] + {}",
            output.name(), ShapeToString(dims), ShapeToString(computed));
    }
  }

  // A float tensor's dimensions; kSymbolicDim for a symbolic or unknown one. Empty when no shape is
  // given. A declared size of 0 or less is a malformed model, not a symbolic dimension.
  static Shape TensorShape(const onnx::ValueInfoProto& info, std::string_view role) {
    if (!info.type().has_tensor_type()) {
      Throw(ErrorKind::kUnsupported, "{} '{}' is not a tensor: expected a FLOAT tensor", role,
            info.name());
    }
    const auto& tensor_type = info.type().tensor_type();
    if (tensor_type.elem_type() != onnx::TensorProto::FLOAT) {
      Throw(ErrorKind::kUnsupported, "{} '{}' has element type {}: expected FLOAT", role,
            info.name(), DataTypeLabel(tensor_type.elem_type()));
    }
    Shape dims;
    for (const auto& dim : tensor_type.shape().dim()) {
      if (!dim.has_dim_value()) {
        dims.push_back(kSymbolicDim);
      } else if (dim.dim_value() > 0) {
        dims.push_back(dim.dim_value());
      } else {
        Throw(ErrorKind::kInvalidArgument,
              "{} '{}' dimension {} is {}: expected a positive size or a symbolic name "
              "(dim_param)",
              role, info.name(), dims.size(), dim.dim_value());
      }
    }
    return dims;
  }

  // --- inputs of a node ---------------------------------------------------------------------

  bool HasInput(const NodeRef& node, int k) const {
    return k < node.proto.input_size() && !node.proto.input(k).empty();
  }

  void ExpectInputs(const NodeRef& node, int min, int max) const {
    const int count = node.proto.input_size();
    if (count < min || count > max) {
      node.Fail(ErrorKind::kInvalidArgument, "has {} inputs: expected {} to {}", count, min, max);
    }
  }

  ValueId Activation(const NodeRef& node, int k) const {
    if (!HasInput(node, k)) node.Fail(ErrorKind::kInvalidArgument, "input {} is missing", k);
    const std::string& name = node.proto.input(k);
    auto it = activations_.find(name);
    if (it != activations_.end()) return it->second;
    if (constants_.count(name)) {
      node.Fail(ErrorKind::kUnsupported,
                "input {} '{}' is a constant: this input must be computed from the model input", k,
                name);
    }
    node.Fail(ErrorKind::kInvalidArgument,
              "input {} '{}' is produced by no earlier node (nodes must be in topological order)",
              k, name);
  }

  const onnx::TensorProto& Constant(const NodeRef& node, int k) const {
    if (!HasInput(node, k)) node.Fail(ErrorKind::kInvalidArgument, "input {} is missing", k);
    const std::string& name = node.proto.input(k);
    auto it = constants_.find(name);
    if (it != constants_.end()) return *it->second;
    node.Fail(ErrorKind::kUnsupported,
              "input {} '{}' must be an initializer or a Constant (weights computed at run time "
              "are not supported)",
              k, name);
  }

  std::vector<float> ConstantFloats(const NodeRef& node, int k) const {
    try {
      return FloatValues(Constant(node, k));
    } catch (const Error& e) {
      node.Fail(e.kind(), "{}", e.what());
    }
  }

  const Shape& ShapeOf(ValueId id) const { return graph_.values.at(id).shape; }

  // --- outputs of a node --------------------------------------------------------------------

  // Checks that only the first output is used: the others (batch-norm running statistics, a
  // dropout mask, max-pool indices) exist in training or index-producing modes only.
  void ExpectOneOutput(const NodeRef& node) const {
    for (int k = 1; k < node.proto.output_size(); ++k) {
      if (!node.proto.output(k).empty()) {
        node.Fail(ErrorKind::kUnsupported, "output {} '{}' is not supported: only the first output",
                  k, node.proto.output(k));
      }
    }
  }

  std::string IrName(const NodeRef& node) const {
    return node.proto.name().empty() ? node.proto.output(0) : node.proto.name();
  }

  // Appends an IR node for `node` and infers its shape now, so that later nodes can read their
  // input's rank and size (negative axes, auto_pad, Reshape). InferShapes is the single place the
  // IR's shape rules live; running it on the graph so far keeps the importer from restating them.
  void Emit(const NodeRef& node, OpKind op, std::vector<ValueId> inputs, NodeAttrs attrs = {}) {
    const ValueId out = graph_.AddNode(IrName(node), op, std::move(inputs), std::move(attrs));
    graph_.output = out;
    InferShapes(graph_);
    activations_[node.proto.output(0)] = out;
  }

  void Alias(const NodeRef& node, ValueId value) { activations_[node.proto.output(0)] = value; }

  // --- ops ----------------------------------------------------------------------------------

  void ImportNode(const NodeRef& node) {
    const auto& proto = node.proto;
    if (!proto.domain().empty() && proto.domain() != "ai.onnx") {
      node.Fail(ErrorKind::kUnsupported, "op '{}' of domain '{}' is not supported", proto.op_type(),
                proto.domain());
    }
    if (proto.output_size() < 1 || proto.output(0).empty()) {
      node.Fail(ErrorKind::kInvalidArgument, "has no output");
    }
    Attributes attrs(node);
    const std::string& op = proto.op_type();
    if (op == "Conv") {
      ImportConv(node, attrs);
    } else if (op == "BatchNormalization") {
      ImportBatchNorm(node, attrs);
    } else if (op == "Relu") {
      ExpectInputs(node, 1, 1);
      Emit(node, OpKind::kRelu, {Activation(node, 0)});
    } else if (op == "Clip") {
      ImportClip(node, attrs);
    } else if (IsActivation(op)) {
      ImportActivation(node, attrs);
    } else if (op == "MaxPool" || op == "AveragePool") {
      ImportPool(node, attrs);
    } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
      ExpectInputs(node, 1, 1);
      Emit(node, op == "GlobalMaxPool" ? OpKind::kGlobalMaxPool : OpKind::kGlobalAveragePool,
           {Activation(node, 0)});
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
      ImportBinary(node);
    } else if (op == "Concat") {
      ImportConcat(node, attrs);
    } else if (op == "Transpose") {
      ImportTranspose(node, attrs);
    } else if (op == "Squeeze" || op == "Unsqueeze") {
      ImportSqueeze(node, attrs);
    } else if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax") {
      ImportReduce(node, attrs);
    } else if (op == "Pad") {
      ImportPad(node, attrs);
    } else if (op == "Gather") {
      ImportGather(node, attrs);
    } else if (op == "Flatten") {
      ImportFlatten(node, attrs);
    } else if (op == "Gemm") {
      ImportGemm(node, attrs);
    } else if (op == "MatMul") {
      ImportMatMul(node);
    } else if (op == "Softmax") {
      ImportSoftmax(node, attrs);
    } else if (op == "Identity") {
      ExpectInputs(node, 1, 1);
      ImportIdentity(node);
    } else if (op == "Dropout") {
      ImportDropout(node, attrs);
    } else if (op == "Reshape") {
      ImportReshape(node, attrs);
    } else if (op == "Constant") {
      ImportConstant(node, attrs);
    } else {
      node.Fail(ErrorKind::kUnsupported, "op '{}' is not supported (supported: {})", op,
                kSupportedOps);
    }
    attrs.Finish();
    ExpectOneOutput(node);
  }

  // kernel_shape, strides, dilations, pads and auto_pad, shared by Conv and the pools. `kernel`
  // is the convolution weight's spatial size, or empty for a pool (which requires kernel_shape).
  struct Window {
    std::array<std::int64_t, 2> kernel, stride, dilation;
    std::array<std::int64_t, 4> pads;
  };

  Window ReadWindow(const NodeRef& node, Attributes& attrs, ValueId input,
                    const std::vector<std::int64_t>& weight_kernel) {
    const Shape& in = ShapeOf(input);
    if (in.size() != 3) {
      node.Fail(
          ErrorKind::kUnsupported,
          "input has shape [batch] + {}: only 2-D windows over [batch, C, H, W] are supported",
          ShapeToString(in));
    }
    std::vector<std::int64_t> kernel = attrs.Ints("kernel_shape", weight_kernel);
    if (kernel.empty())
      node.Fail(ErrorKind::kInvalidArgument, "attribute 'kernel_shape' is missing");
    if (!weight_kernel.empty() && kernel != weight_kernel) {
      node.Fail(ErrorKind::kInvalidArgument, "kernel_shape {} disagrees with the weight's {}",
                ShapeToString(kernel), ShapeToString(weight_kernel));
    }
    if (kernel.size() != 2) {
      node.Fail(ErrorKind::kUnsupported, "kernel_shape {}: only 2-D windows are supported",
                ShapeToString(kernel));
    }
    const auto strides = attrs.Ints("strides", {1, 1});
    const auto dilations = attrs.Ints("dilations", {1, 1});
    const bool has_pads = attrs.Has("pads");
    const auto pads = attrs.Ints("pads", {0, 0, 0, 0});
    if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4) {
      node.Fail(ErrorKind::kInvalidArgument,
                "strides {}, dilations {} and pads {} must have 2, 2 and 4 values",
                ShapeToString(strides), ShapeToString(dilations), ShapeToString(pads));
    }
    Window w{{kernel[0], kernel[1]},
             {strides[0], strides[1]},
             {dilations[0], dilations[1]},
             {pads[0], pads[1], pads[2], pads[3]}};
    const std::string auto_pad = attrs.String("auto_pad", "NOTSET");
    if (auto_pad == "NOTSET") return w;
    if (has_pads) {
      node.Fail(ErrorKind::kInvalidArgument, "auto_pad {} and explicit pads are both given",
                auto_pad);
    }
    if (auto_pad == "VALID") return w;
    if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
      node.Fail(ErrorKind::kUnsupported, "auto_pad '{}' is not supported", auto_pad);
    }
    // SAME: output = ceil(input / stride); the odd padding element goes to the end (UPPER) or
    // the beginning (LOWER).
    const std::string what = node.Label() + " auto_pad";
    for (int axis = 0; axis < 2; ++axis) {
      const std::int64_t size = in[axis + 1], stride = w.stride[axis];
      if (stride <= 0) node.Fail(ErrorKind::kInvalidArgument, "strides must be positive");
      if (w.kernel[axis] <= 0 || w.dilation[axis] <= 0) {
        node.Fail(ErrorKind::kInvalidArgument, "kernel_shape {} and dilations {} must be positive",
                  ShapeToString(w.kernel), ShapeToString(w.dilation));
      }
      const std::int64_t out = (size - 1) / stride + 1;  // ceil(size / stride), size > 0
      const std::int64_t extent =
          CheckedAdd(CheckedMultiply(w.dilation[axis], w.kernel[axis] - 1, what), 1, what);
      const std::int64_t covered = CheckedAdd(CheckedMultiply(out - 1, stride, what), extent, what);
      const std::int64_t total = std::max<std::int64_t>(0, covered - size);
      const std::int64_t small = total / 2, large = total - small;
      w.pads[axis] = auto_pad == "SAME_UPPER" ? small : large;
      w.pads[axis + 2] = auto_pad == "SAME_UPPER" ? large : small;
    }
    return w;
  }

  void ImportConv(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 2, 3);
    const ValueId x = Activation(node, 0);
    const onnx::TensorProto& weight = Constant(node, 1);
    if (weight.dims_size() != 4) {
      node.Fail(ErrorKind::kUnsupported,
                "weight '{}' has shape {}: only 2-D convolution (weight [M, C/group, kH, kW]) is "
                "supported",
                weight.name(), ShapeToString(Dims(weight)));
    }
    const Window w = ReadWindow(node, attrs, x, {weight.dims(2), weight.dims(3)});
    Conv2DAttrs conv;
    conv.out_channels = weight.dims(0);
    conv.kernel = w.kernel;
    conv.stride = w.stride;
    conv.dilation = w.dilation;
    conv.pads = w.pads;
    conv.groups = attrs.Int("group", 1);
    conv.weight = ConstantFloats(node, 1);
    if (HasInput(node, 2)) conv.bias = ConstantFloats(node, 2);
    Emit(node, OpKind::kConv2D, {x}, std::move(conv));
  }

  void ImportBatchNorm(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 5, 5);
    if (attrs.Int("training_mode", 0) != 0) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'training_mode' = 1 is not supported: inference only");
    }
    if (attrs.Int("spatial", 1) != 1) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'spatial' = 0 is not supported: statistics must be per channel");
    }
    attrs.Ignore("momentum");  // updates running statistics in training only
    BatchNormAttrs bn;
    bn.epsilon = attrs.Float("epsilon", 1e-5f);
    const ValueId x = Activation(node, 0);
    bn.scale = ConstantFloats(node, 1);
    bn.shift = ConstantFloats(node, 2);
    bn.mean = ConstantFloats(node, 3);
    bn.variance = ConstantFloats(node, 4);
    Emit(node, OpKind::kBatchNorm, {x}, std::move(bn));
  }

  void ImportPool(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 1);
    const bool max = node.proto.op_type() == "MaxPool";
    const bool ceil_mode = attrs.Int("ceil_mode", 0) != 0;
    if (max && attrs.Int("storage_order", 0) != 0) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'storage_order' = 1 is not supported: it only affects the indices "
                "output, which is not supported");
    }
    const ValueId x = Activation(node, 0);
    const Window w = ReadWindow(node, attrs, x, {});
    if (w.dilation != std::array<std::int64_t, 2>{1, 1}) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'dilations' = {} is not supported for pooling: only 1",
                ShapeToString(w.dilation));
    }
    PoolAttrs pool;
    pool.kernel = w.kernel;
    pool.stride = w.stride;
    pool.pads = w.pads;
    pool.ceil_mode = ceil_mode;
    if (!max) pool.count_include_pad = attrs.Int("count_include_pad", 0) != 0;
    Emit(node, max ? OpKind::kMaxPool : OpKind::kAveragePool, {x}, pool);
  }

  // Add, Sub, Mul and Div. An Add of a constant vector to a dense layer's output is its bias; an
  // Add of two values of one shape is the residual Add the backends fuse; everything else is a
  // broadcasting Binary node.
  void ImportBinary(const NodeRef& node) {
    ExpectInputs(node, 2, 2);
    const std::string& op = node.proto.op_type();
    const bool constant_a = constants_.count(node.proto.input(0)) > 0;
    const bool constant_b = constants_.count(node.proto.input(1)) > 0;
    if (constant_a && constant_b) {
      node.Fail(ErrorKind::kUnsupported,
                "both operands are constants: fold them before export (the IR computes only "
                "from the model input)");
    }
    if (op == "Add" && constant_a != constant_b &&
        TryAddBias(node, constant_a ? 1 : 0, constant_a ? 0 : 1)) {
      return;
    }
    BinaryAttrs binary;
    binary.kind = op == "Add"   ? BinaryKind::kAdd
                  : op == "Sub" ? BinaryKind::kSub
                  : op == "Mul" ? BinaryKind::kMul
                                : BinaryKind::kDiv;
    if (constant_a || constant_b) {
      const int k = constant_a ? 0 : 1;
      const ValueId x = Activation(node, 1 - k);
      binary.constant = ConstantFloats(node, k);
      binary.constant_shape = ConstantOperandShape(node, k, ShapeOf(x));
      binary.constant_first = constant_a;
      Emit(node, OpKind::kBinary, {x}, std::move(binary));
      return;
    }
    const ValueId a = Activation(node, 0);
    const ValueId b = Activation(node, 1);
    if (ShapeOf(a).size() != ShapeOf(b).size()) {
      node.Fail(ErrorKind::kUnsupported,
                "operands have shapes [batch] + {} and [batch] + {}: two computed operands must "
                "have the same rank, so that their batch axes align",
                ShapeToString(ShapeOf(a)), ShapeToString(ShapeOf(b)));
    }
    if (binary.kind == BinaryKind::kAdd && ShapeOf(a) == ShapeOf(b)) {
      Emit(node, OpKind::kAdd, {a, b});
    } else {
      Emit(node, OpKind::kBinary, {a, b}, std::move(binary));
    }
  }

  // A constant operand's per-sample shape against a value of per-sample shape `value`: NumPy
  // aligns the last axes, so a constant of the full rank has a batch axis, which must be 1.
  Shape ConstantOperandShape(const NodeRef& node, int k, const Shape& value) const {
    const onnx::TensorProto& tensor = Constant(node, k);
    Shape dims = Dims(tensor);
    if (dims.size() == value.size() + 1) {
      if (dims[0] != 1) {
        node.Fail(ErrorKind::kUnsupported,
                  "constant '{}' of shape {} has a batch axis of {}: only 1 (the same for every "
                  "sample) is supported",
                  tensor.name(), ShapeToString(dims), dims[0]);
      }
      dims.erase(dims.begin());
    }
    if (dims.size() > value.size()) {
      node.Fail(ErrorKind::kUnsupported,
                "constant '{}' of shape {} has more axes than the value [batch] + {}",
                tensor.name(), ShapeToString(dims), ShapeToString(value));
    }
    dims.insert(dims.begin(), value.size() - dims.size(), 1);
    return dims;
  }

  // A per-sample axis from an ONNX axis over [batch] + `shape` (negative counts from the end).
  std::int64_t SampleAxis(const NodeRef& node, std::int64_t axis, std::size_t sample_rank,
                          std::string_view what) const {
    const auto rank = static_cast<std::int64_t>(sample_rank) + 1;
    const std::int64_t normalised = axis < 0 ? axis + rank : axis;
    if (normalised == 0) {
      node.Fail(ErrorKind::kUnsupported,
                "{} {} is the batch axis: only the per-sample axes 1 to {} are supported", what,
                axis, rank - 1);
    }
    if (normalised < 0 || normalised >= rank) {
      node.Fail(ErrorKind::kInvalidArgument, "{} {} is outside the input's {} axes", what, axis,
                rank);
    }
    return normalised - 1;
  }

  static bool IsActivation(const std::string& op) {
    return op == "Sigmoid" || op == "HardSigmoid" || op == "HardSwish" || op == "Tanh" ||
           op == "LeakyRelu" || op == "Elu";
  }

  void ImportActivation(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 1);
    const std::string& op = node.proto.op_type();
    ActivationAttrs activation;
    if (op == "Sigmoid") {
      activation.kind = ActivationKind::kSigmoid;
    } else if (op == "HardSigmoid") {
      activation = {ActivationKind::kHardSigmoid, attrs.Float("alpha", 0.2f),
                    attrs.Float("beta", 0.5f)};
    } else if (op == "HardSwish") {
      activation.kind = ActivationKind::kHardSwish;
    } else if (op == "Tanh") {
      activation.kind = ActivationKind::kTanh;
    } else if (op == "LeakyRelu") {
      activation = {ActivationKind::kLeakyRelu, attrs.Float("alpha", 0.01f)};
    } else {
      activation = {ActivationKind::kElu, attrs.Float("alpha", 1.0f)};
    }
    Emit(node, OpKind::kActivation, {Activation(node, 0)}, activation);
  }

  // Clip: bounds from attributes (opset < 11) or optional scalar inputs. Clip(0, inf) is a ReLU.
  void ImportClip(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 3);
    constexpr float kInf = std::numeric_limits<float>::infinity();
    float bounds[2] = {attrs.Float("min", -kInf), attrs.Float("max", kInf)};
    for (int k = 1; k <= 2; ++k) {
      if (!HasInput(node, k)) continue;
      const std::vector<float> value = ConstantFloats(node, k);
      if (value.size() != 1) {
        node.Fail(ErrorKind::kInvalidArgument, "input {} has {} values: expected one (a scalar)", k,
                  value.size());
      }
      bounds[k - 1] = value[0];
    }
    const ValueId x = Activation(node, 0);
    if (bounds[0] == 0.0f && bounds[1] == kInf) {
      Emit(node, OpKind::kRelu, {x});
    } else {
      Emit(node, OpKind::kActivation, {x},
           ActivationAttrs{ActivationKind::kClip, bounds[0], bounds[1]});
    }
  }

  void ImportConcat(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, INT_MAX);
    if (!attrs.Has("axis")) node.Fail(ErrorKind::kInvalidArgument, "attribute 'axis' is missing");
    std::vector<ValueId> inputs;
    for (int k = 0; k < node.proto.input_size(); ++k) inputs.push_back(Activation(node, k));
    const std::int64_t axis =
        SampleAxis(node, attrs.Int("axis", 0), ShapeOf(inputs[0]).size(), "axis");
    if (inputs.size() == 1) {
      Alias(node, inputs[0]);
      return;
    }
    Emit(node, OpKind::kConcat, std::move(inputs), AxisAttrs{axis});
  }

  void ImportTranspose(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 1);
    const ValueId x = Activation(node, 0);
    const auto rank = static_cast<std::int64_t>(ShapeOf(x).size()) + 1;
    std::vector<std::int64_t> perm = attrs.Ints("perm", {});
    if (perm.empty()) {
      for (std::int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
    }
    if (static_cast<std::int64_t>(perm.size()) != rank || perm[0] != 0) {
      node.Fail(ErrorKind::kUnsupported,
                "perm {} on a rank-{} input is not supported: the batch axis must stay first",
                ShapeToString(perm), rank);
    }
    TransposeAttrs transpose;
    for (std::size_t d = 1; d < perm.size(); ++d) transpose.perm.push_back(perm[d] - 1);
    Emit(node, OpKind::kTranspose, {x}, std::move(transpose));
  }

  // The same elements in the per-sample shape `shape`: nothing when it is the input's, a Flatten
  // when it has one axis (which every backend treats as an alias), else a Reshape.
  void EmitReshape(const NodeRef& node, ValueId x, Shape shape) {
    if (shape == ShapeOf(x)) {
      Alias(node, x);
    } else if (shape.size() == 1) {
      Emit(node, OpKind::kFlatten, {x});
    } else {
      Emit(node, OpKind::kReshape, {x}, ReshapeAttrs{std::move(shape)});
    }
  }

  // Squeeze and Unsqueeze, with their axes from the attribute (opset < 13) or input 1.
  void ImportSqueeze(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 2);
    const bool squeeze = node.proto.op_type() == "Squeeze";
    const ValueId x = Activation(node, 0);
    std::vector<std::int64_t> axes = attrs.Ints("axes", {});
    if (HasInput(node, 1)) axes = ConstantInts(node, 1);
    Shape shape = ShapeOf(x);
    if (squeeze) {
      if (axes.empty()) {
        std::erase(shape, 1);
      } else {
        std::vector<bool> drop(shape.size(), false);
        for (std::int64_t axis : axes) {
          const std::int64_t d = SampleAxis(node, axis, shape.size(), "axis");
          if (shape[d] != 1) {
            node.Fail(ErrorKind::kInvalidArgument, "axis {} has size {}: only size 1 squeezes",
                      axis, shape[d]);
          }
          drop[d] = true;
        }
        Shape kept;
        for (std::size_t d = 0; d < shape.size(); ++d) {
          if (!drop[d]) kept.push_back(shape[d]);
        }
        shape = std::move(kept);
      }
      if (shape.empty()) shape = {1};
    } else {
      const std::size_t out_rank = shape.size() + axes.size();
      std::vector<std::int64_t> sample_axes;
      for (std::int64_t axis : axes)
        sample_axes.push_back(SampleAxis(node, axis, out_rank, "axis"));
      std::sort(sample_axes.begin(), sample_axes.end());
      for (std::int64_t d : sample_axes) shape.insert(shape.begin() + d, 1);
    }
    EmitReshape(node, x, std::move(shape));
  }

  std::vector<std::int64_t> ConstantInts(const NodeRef& node, int k) const {
    try {
      return Int64Values(Constant(node, k));
    } catch (const Error& e) {
      node.Fail(e.kind(), "{}", e.what());
    }
  }

  void ImportReduce(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 2);
    const std::string& op = node.proto.op_type();
    const ValueId x = Activation(node, 0);
    std::vector<std::int64_t> axes = attrs.Ints("axes", {});
    if (HasInput(node, 1)) axes = ConstantInts(node, 1);
    const bool keep_dims = attrs.Int("keepdims", 1) != 0;
    if (axes.empty()) {
      if (attrs.Int("noop_with_empty_axes", 0) != 0) {
        Alias(node, x);
        return;
      }
      node.Fail(ErrorKind::kUnsupported,
                "no axes: reducing over every axis includes the batch axis, which is not "
                "supported; name the per-sample axes");
    }
    ReduceAttrs reduce;
    reduce.kind = op == "ReduceMean"  ? ReduceKind::kMean
                  : op == "ReduceSum" ? ReduceKind::kSum
                                      : ReduceKind::kMax;
    reduce.keep_dims = keep_dims;
    for (std::int64_t axis : axes) {
      reduce.axes.push_back(SampleAxis(node, axis, ShapeOf(x).size(), "axis"));
    }
    std::sort(reduce.axes.begin(), reduce.axes.end());
    if (std::adjacent_find(reduce.axes.begin(), reduce.axes.end()) != reduce.axes.end()) {
      node.Fail(ErrorKind::kInvalidArgument, "axes {} name an axis twice", ShapeToString(axes));
    }
    Emit(node, OpKind::kReduce, {x}, std::move(reduce));
  }

  // Constant padding, with pads [x1_begin, x2_begin, ..., x1_end, ...] from input 1 (opset >= 11)
  // or the attribute; the batch axis is not padded.
  void ImportPad(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 3);
    const std::string mode = attrs.String("mode", "constant");
    if (mode != "constant") {
      node.Fail(ErrorKind::kUnsupported, "mode '{}' is not supported: only 'constant'", mode);
    }
    const ValueId x = Activation(node, 0);
    std::vector<std::int64_t> pads = attrs.Ints("pads", {});
    if (HasInput(node, 1)) pads = ConstantInts(node, 1);
    PadAttrs pad;
    pad.value = attrs.Float("value", 0.0f);
    if (HasInput(node, 2)) {
      const std::vector<float> value = ConstantFloats(node, 2);
      if (value.size() != 1) {
        node.Fail(ErrorKind::kInvalidArgument, "constant_value has {} values: expected one",
                  value.size());
      }
      pad.value = value[0];
    }
    const std::size_t rank = ShapeOf(x).size() + 1;
    if (pads.size() != 2 * rank) {
      node.Fail(ErrorKind::kInvalidArgument,
                "pads {} has {} values: expected {} for a rank-{} "
                "input",
                ShapeToString(pads), pads.size(), 2 * rank, rank);
    }
    if (pads[0] != 0 || pads[rank] != 0) {
      node.Fail(ErrorKind::kUnsupported, "pads {} pad the batch axis: only per-sample axes",
                ShapeToString(pads));
    }
    for (std::size_t d = 1; d < rank; ++d) {
      if (pads[d] < 0 || pads[rank + d] < 0) {
        node.Fail(ErrorKind::kUnsupported, "pads {}: negative pads (cropping) are not supported",
                  ShapeToString(pads));
      }
      pad.begin.push_back(pads[d]);
      pad.end.push_back(pads[rank + d]);
    }
    // PyTorch exports every AvgPool2d with count_include_pad as Pad + AveragePool, padding
    // nothing when the pool has no padding: that Pad is the identity, and a backend that lacks
    // Pad (int8) should not refuse the model for it.
    const auto zero = [](std::int64_t p) { return p == 0; };
    if (std::all_of(pad.begin.begin(), pad.begin.end(), zero) &&
        std::all_of(pad.end.begin(), pad.end.end(), zero)) {
      Alias(node, x);
      return;
    }
    Emit(node, OpKind::kPad, {x}, std::move(pad));
  }

  void ImportGather(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 2, 2);
    const ValueId x = Activation(node, 0);
    GatherAttrs gather;
    gather.axis = SampleAxis(node, attrs.Int("axis", 0), ShapeOf(x).size(), "axis");
    gather.indices = ConstantInts(node, 1);
    gather.indices_shape = Dims(Constant(node, 1));
    const std::int64_t size = ShapeOf(x)[gather.axis];
    for (std::int64_t& index : gather.indices) {
      if (index < -size || index >= size) {
        node.Fail(ErrorKind::kInvalidArgument, "index {} is outside an axis of size {}", index,
                  size);
      }
      if (index < 0) index += size;
    }
    Emit(node, OpKind::kGather, {x}, std::move(gather));
  }

  // MatMul followed by Add of a constant vector is how some exporters write a dense layer: the
  // constant becomes the Dense node's bias. Returns false when the pattern does not apply.
  bool TryAddBias(const NodeRef& node, int activation_input, int constant_input) {
    auto it = activations_.find(node.proto.input(activation_input));
    if (it == activations_.end() || uses_[it->first] != 1) return false;
    for (Node& producer : graph_.nodes) {
      if (producer.output != it->second || producer.op != OpKind::kDense) continue;
      auto& dense = std::get<DenseAttrs>(producer.attrs);
      if (!dense.bias.empty()) return false;
      dense.bias = BatchInvariantBias(node, constant_input, dense.out_features);
      Alias(node, it->second);
      return true;
    }
    return false;
  }

  // A bias constant broadcast to [batch, features]: one value, or `features` values along the last
  // axis. A bias with a batch axis of its own (Gemm's C of shape [M, N]) would tie the model to one
  // batch size.
  std::vector<float> BatchInvariantBias(const NodeRef& node, int k, std::int64_t features) const {
    const onnx::TensorProto& tensor = Constant(node, k);
    std::vector<float> values = ConstantFloats(node, k);
    if (values.size() == 1) return std::vector<float>(features, values[0]);
    const int rank = tensor.dims_size();
    if (rank < 1 || rank > 2 || tensor.dims(rank - 1) != features ||
        (rank == 2 && tensor.dims(0) != 1)) {
      node.Fail(ErrorKind::kUnsupported,
                "bias '{}' of shape {} is not supported: expected [{}], [1, {}] or one value; a "
                "bias with a row per batch element would fix the batch size",
                tensor.name(), ShapeToString(Dims(tensor)), features, features);
    }
    return values;
  }

  // Flatten at axis k collapses [batch, d1, ...] to [batch·d1·...·d(k-1), dk·...]: it keeps the
  // batch axis when the axes before k (after the batch) have size 1.
  void ImportFlatten(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 1);
    const ValueId x = Activation(node, 0);
    const Shape& in = ShapeOf(x);
    const auto rank = static_cast<std::int64_t>(in.size()) + 1;
    std::int64_t axis = attrs.Int("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) {
      node.Fail(ErrorKind::kInvalidArgument, "attribute 'axis' = {} is outside a rank-{} input",
                axis, rank);
    }
    const std::int64_t outer =
        axis == 0 ? 0 : NumElements(Shape(in.begin(), in.begin() + axis - 1));
    if (outer != 1) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'axis' = {} on [batch] + {} is not supported: it would merge the batch "
                "axis with others (only a flatten that keeps the batch axis)",
                axis, ShapeToString(in));
    }
    EmitReshape(node, x, {NumElements(in)});
  }

  // The rank-1 per-sample input of a Gemm and its number of features.
  std::int64_t DenseInputFeatures(const NodeRef& node, ValueId x) const {
    const Shape& in = ShapeOf(x);
    if (in.size() != 1) {
      node.Fail(ErrorKind::kUnsupported,
                "input has shape [batch] + {}: only rank-2 [batch, features] inputs are supported",
                ShapeToString(in));
    }
    return in[0];
  }

  // Reads a constant matrix B of shape [K, N] (or [N, K] when `transposed`) as the IR's
  // [N, K] dense weight.
  std::vector<float> DenseWeight(const NodeRef& node, int k, bool transposed,
                                 std::int64_t in_features, std::int64_t* out_features) const {
    const onnx::TensorProto& b = Constant(node, k);
    if (b.dims_size() != 2 || b.dims(transposed ? 1 : 0) != in_features) {
      node.Fail(ErrorKind::kInvalidArgument,
                "weight '{}' has shape {}: expected {} for {} input features", b.name(),
                ShapeToString(Dims(b)), transposed ? "[N, K]" : "[K, N]", in_features);
    }
    *out_features = b.dims(transposed ? 0 : 1);
    std::vector<float> values = ConstantFloats(node, k);
    if (transposed) return values;
    std::vector<float> weight(values.size());
    for (std::int64_t i = 0; i < in_features; ++i) {
      for (std::int64_t o = 0; o < *out_features; ++o) {
        weight[o * in_features + i] = values[i * *out_features + o];
      }
    }
    return weight;
  }

  void ImportGemm(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 2, 3);
    if (attrs.Int("transA", 0) != 0) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'transA' = 1 is not supported: A must be [batch, features]");
    }
    const bool trans_b = attrs.Int("transB", 0) != 0;
    const float alpha = attrs.Float("alpha", 1.0f);
    const float beta = attrs.Float("beta", 1.0f);
    const ValueId a = Activation(node, 0);
    DenseAttrs dense;
    dense.weight = DenseWeight(node, 1, trans_b, DenseInputFeatures(node, a), &dense.out_features);
    // alpha·A·B + beta·C = A·(alpha·B) + beta·C: both scalars fold into the parameters.
    if (alpha != 1.0f) {
      for (float& w : dense.weight) w *= alpha;
    }
    if (HasInput(node, 2)) {
      dense.bias = BatchInvariantBias(node, 2, dense.out_features);
      if (beta != 1.0f) {
        for (float& c : dense.bias) c *= beta;
      }
    }
    Emit(node, OpKind::kDense, {a}, std::move(dense));
  }

  // A value times a constant matrix is a dense layer over the last axis; two values are a
  // batched matrix product.
  void ImportMatMul(const NodeRef& node) {
    ExpectInputs(node, 2, 2);
    const ValueId a = Activation(node, 0);
    if (constants_.count(node.proto.input(1)) == 0) {
      const ValueId b = Activation(node, 1);
      if (ShapeOf(a).size() < 2 || ShapeOf(b).size() != ShapeOf(a).size()) {
        node.Fail(ErrorKind::kUnsupported,
                  "operands of shapes [batch] + {} and [batch] + {}: two computed operands must "
                  "have the same rank, at least 3 with the batch axis",
                  ShapeToString(ShapeOf(a)), ShapeToString(ShapeOf(b)));
      }
      Emit(node, OpKind::kMatMul, {a, b});
      return;
    }
    DenseAttrs dense;
    dense.weight = DenseWeight(node, 1, false, ShapeOf(a).back(), &dense.out_features);
    Emit(node, OpKind::kDense, {a}, std::move(dense));
  }

  void ImportSoftmax(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 1);
    const ValueId x = Activation(node, 0);
    const auto rank = static_cast<std::int64_t>(ShapeOf(x).size()) + 1;
    // From opset 13 the default is the last axis; before, softmax ran over everything after
    // `axis` coerced to 2-D, which is one axis only when it is the last.
    const std::int64_t axis = attrs.Int("axis", opset_ >= 13 ? -1 : 1);
    const std::int64_t last = rank - 1;
    if ((axis < 0 ? axis + rank : axis) != last) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'axis' = {} on an input of shape [batch] + {} is not supported: only "
                "the last axis",
                axis, ShapeToString(ShapeOf(x)));
    }
    Emit(node, OpKind::kSoftmax, {x});
  }

  void ImportIdentity(const NodeRef& node) {
    const std::string& name = node.proto.input(0);
    if (auto it = constants_.find(name); it != constants_.end()) {
      constants_[node.proto.output(0)] = it->second;
    } else {
      Alias(node, Activation(node, 0));
    }
  }

  void ImportDropout(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 1, 3);
    // Inference-mode dropout is the identity, whatever the ratio or seed.
    attrs.Ignore("seed");
    attrs.Ignore("ratio");
    if (attrs.Int("is_test", 1) == 0) {
      node.Fail(ErrorKind::kUnsupported,
                "attribute 'is_test' = 0 is not supported: inference only");
    }
    if (HasInput(node, 2)) {
      const onnx::TensorProto& training = Constant(node, 2);
      if (training.data_type() != onnx::TensorProto::BOOL || TensorElements(training) != 1 ||
          (training.has_raw_data()
               ? training.raw_data() != std::string(1, '\0')
               : training.int32_data_size() != 1 || training.int32_data(0) != 0)) {
        node.Fail(ErrorKind::kUnsupported,
                  "input 2 'training_mode' must be a constant false: inference only");
      }
    }
    Alias(node, Activation(node, 0));
  }

  // Reshape to a constant shape whose first entry keeps the batch: 0 (copy), the input's declared
  // batch size (a model exported at a fixed batch), or -1 with every other entry known.
  void ImportReshape(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 2, 2);
    const ValueId x = Activation(node, 0);
    const std::vector<std::int64_t> shape = ConstantInts(node, 1);
    const bool allow_zero = attrs.Int("allowzero", 0) != 0;
    const Shape& in = ShapeOf(x);
    const std::int64_t elements = NumElements(in);
    auto unsupported = [&](std::string_view why) {
      node.Fail(ErrorKind::kUnsupported, "reshape of [batch] + {} to {} is not supported: {}",
                ShapeToString(in), ShapeToString(shape), why);
    };
    if (shape.size() < 2) unsupported("the batch axis must stay first, with per-sample axes after");
    Shape out;
    int inferred = -1;
    for (std::size_t d = 1; d < shape.size(); ++d) {
      std::int64_t dim = shape[d];
      if (dim == 0 && !allow_zero) {
        if (d - 1 >= in.size()) unsupported("0 copies an axis the input does not have");
        dim = in[d - 1];
      } else if (dim == -1) {
        if (inferred >= 0) unsupported("more than one -1");
        inferred = static_cast<int>(out.size());
        dim = 1;
      } else if (dim <= 0) {
        unsupported("a per-sample size must be positive, 0 or -1");
      }
      out.push_back(dim);
    }
    const std::int64_t known = NumElements(out);
    if (inferred >= 0) {
      if (known == 0 || elements % known != 0) unsupported("-1 cannot be resolved");
      out[inferred] = elements / known;
    }
    const bool batch_kept = (shape[0] == 0 && !allow_zero) ||
                            (shape[0] > 0 && shape[0] == declared_batch_) ||
                            (shape[0] == -1 && inferred < 0);
    if (!batch_kept || NumElements(out) != elements) {
      unsupported("only shapes that keep the batch axis first and every sample's elements");
    }
    EmitReshape(node, x, std::move(out));
  }

  void ImportConstant(const NodeRef& node, Attributes& attrs) {
    ExpectInputs(node, 0, 0);
    onnx::TensorProto tensor;
    if (const onnx::TensorProto* value = attrs.Tensor("value")) {
      tensor = *value;
    } else if (attrs.Has("value_float") || attrs.Has("value_floats")) {
      tensor.set_data_type(onnx::TensorProto::FLOAT);
      const bool scalar = attrs.Has("value_float");
      for (float v : scalar ? std::vector<float>{attrs.Float("value_float", 0)}
                            : attrs.Floats("value_floats")) {
        tensor.add_float_data(v);
      }
      if (!scalar) tensor.add_dims(tensor.float_data_size());
    } else if (attrs.Has("value_int") || attrs.Has("value_ints")) {
      tensor.set_data_type(onnx::TensorProto::INT64);
      const bool scalar = attrs.Has("value_int");
      for (std::int64_t v : scalar ? std::vector<std::int64_t>{attrs.Int("value_int", 0)}
                                   : attrs.Ints("value_ints", {})) {
        tensor.add_int64_data(v);
      }
      if (!scalar) tensor.add_dims(tensor.int64_data_size());
    } else {
      attrs.Finish();  // names the unsupported form (sparse_value, value_string, ...)
      node.Fail(ErrorKind::kInvalidArgument, "has no value attribute");
    }
    tensor.set_name(node.proto.output(0));
    owned_constants_.push_back(std::move(tensor));
    constants_[node.proto.output(0)] = &owned_constants_.back();
  }

  const onnx::ModelProto& model_;
  const onnx::GraphProto& onnx_graph_;
  Graph graph_;
  std::int64_t declared_batch_ = -1;  // the input's first dimension, -1 when symbolic
  std::int64_t opset_ = 0;            // the default domain's version
  std::unordered_map<std::string, ValueId> activations_;
  std::unordered_map<std::string, const onnx::TensorProto*> constants_;
  std::deque<onnx::TensorProto> owned_constants_;  // Constant nodes' values (stable addresses)
  std::unordered_map<std::string, int> uses_;
};

}  // namespace

Graph ImportOnnx(std::string_view serialized_model, std::string_view source_name) {
  try {
    if (serialized_model.size() > static_cast<std::size_t>(INT_MAX)) {
      Throw(ErrorKind::kUnsupported,
            "the model is {} bytes, over protobuf's 2 GiB limit for one message",
            serialized_model.size());
    }
    onnx::ModelProto model;
    if (!model.ParseFromArray(serialized_model.data(), static_cast<int>(serialized_model.size()))) {
      Throw(ErrorKind::kInvalidArgument, "not an ONNX model: the ModelProto does not parse");
    }
    if (!model.has_graph()) Throw(ErrorKind::kInvalidArgument, "the model has no graph");
    return Importer(model).Import(source_name);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("ONNX model '{}': {}", source_name, e.what()));
  }
}

Graph ImportOnnx(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    Throw(ErrorKind::kNotFound, "ONNX model '{}' does not exist or is not a file", file.string());
  }
  return ImportOnnx(ReadWholeFile(file, "ONNX model"), file.string());
}

}  // namespace sonic
