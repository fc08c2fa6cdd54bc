#include "models/onnx_import.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backends/reference/reference_backend.h"
#include "backends/registry.h"
#include "core/error.h"

namespace sonic {
namespace {

namespace fs = std::filesystem;

const fs::path kNodeTests = SONIC_ONNX_NODE_TESTS;
const fs::path kResNet50Dir = SONIC_ONNX_RESNET50_DIR;

std::string ReadBytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> ReadFloats(const fs::path& file) {
  const std::string bytes = ReadBytes(file);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

onnx::TensorProto LoadTensor(const fs::path& file) {
  onnx::TensorProto tensor;
  if (!tensor.ParseFromString(ReadBytes(file))) {
    throw std::runtime_error("not a TensorProto: " + file.string());
  }
  return tensor;
}

// The golden files hold FLOAT tensors in raw_data (little-endian) or float_data.
std::vector<float> TensorFloats(const onnx::TensorProto& tensor) {
  if (tensor.data_type() != onnx::TensorProto::FLOAT) {
    throw std::runtime_error("golden tensor is not FLOAT: " + tensor.name());
  }
  if (!tensor.has_raw_data()) return {tensor.float_data().begin(), tensor.float_data().end()};
  std::vector<float> values(tensor.raw_data().size() / sizeof(float));
  std::memcpy(values.data(), tensor.raw_data().data(), values.size() * sizeof(float));
  return values;
}

std::vector<float> RunReference(const Graph& graph, const std::vector<float>& input, int batch) {
  CompileOptions options;
  options.max_batch = batch;
  auto executable = MakeReferenceBackend()->Compile(graph, options);
  std::vector<float> output(batch * NumElements(graph.output_shape()));
  executable->Run(input, batch, output);
  return output;
}

// Tight elementwise comparison: the reference backend and ONNX's numpy reference both compute in
// float32 (the reference accumulating in double), so they agree to rounding.
void ExpectClose(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-6 + 1e-5 * std::abs(expected[i])) << "element " << i;
  }
}

std::string Serialize(const onnx::ModelProto& model) {
  std::string bytes;
  model.SerializeToString(&bytes);
  return bytes;
}

// A node test's model with its golden inputs 1..n moved into initializers: ONNX's node tests feed
// weights as graph inputs, the IR takes one input. The graph inputs are kept, as older exporters
// list initializers among the inputs too, which the importer must skip.
std::string NodeTestModel(const std::string& test) {
  onnx::ModelProto model;
  if (!model.ParseFromString(ReadBytes(kNodeTests / test / "model.onnx"))) {
    throw std::runtime_error("cannot parse " + test);
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  for (int k = 1; k < graph.input_size(); ++k) {
    onnx::TensorProto tensor =
        LoadTensor(kNodeTests / test / "test_data_set_0" / ("input_" + std::to_string(k) + ".pb"));
    tensor.set_name(graph.input(k).name());
    *graph.add_initializer() = std::move(tensor);
  }
  return Serialize(model);
}

// The node tests that fit the IR, by family: imported, run on the reference backend (and on
// every compiled optimising backend, below), compared with ONNX's golden output.
const std::map<std::string, std::vector<std::string>> kGoldenNodeTests{
    {"Conv",
     {"test_basic_conv_with_padding", "test_basic_conv_without_padding",
      "test_conv_with_strides_padding", "test_conv_with_strides_no_padding",
      "test_conv_with_strides_and_asymmetric_padding", "test_conv_with_autopad_same"}},
    {"BatchNorm", {"test_batchnorm_example", "test_batchnorm_epsilon"}},
    {"Relu", {"test_relu"}},
    {"MaxPool",
     {"test_maxpool_2d_default", "test_maxpool_2d_pads", "test_maxpool_2d_precomputed_pads",
      "test_maxpool_2d_precomputed_strides", "test_maxpool_2d_strides",
      "test_maxpool_2d_same_upper", "test_maxpool_2d_same_lower",
      "test_maxpool_2d_precomputed_same_upper"}},
    {"AveragePool",
     {"test_averagepool_2d_default", "test_averagepool_2d_pads",
      "test_averagepool_2d_pads_count_include_pad", "test_averagepool_2d_precomputed_pads",
      "test_averagepool_2d_precomputed_pads_count_include_pad",
      "test_averagepool_2d_precomputed_strides", "test_averagepool_2d_strides",
      "test_averagepool_2d_same_upper", "test_averagepool_2d_same_lower",
      "test_averagepool_2d_precomputed_same_upper"}},
    {"GlobalAveragePool", {"test_globalaveragepool", "test_globalaveragepool_precomputed"}},
    {"Flatten", {"test_flatten_axis1", "test_flatten_default_axis", "test_flatten_negative_axis3"}},
    {"Gemm",
     {"test_gemm_transposeB", "test_gemm_default_vector_bias", "test_gemm_default_no_bias",
      "test_gemm_default_zero_bias", "test_gemm_default_scalar_bias",
      "test_gemm_default_single_elem_vector_bias", "test_gemm_alpha", "test_gemm_beta"}},
    {"MatMul", {"test_matmul_2d"}},
    {"Softmax", {"test_softmax_example", "test_softmax_large_number"}},
    {"Identity", {"test_identity"}},
    {"Dropout", {"test_dropout_default", "test_dropout_default_ratio", "test_dropout_random_old"}},
    {"Reshape",
     {"test_reshape_reduced_dims", "test_reshape_extended_dims", "test_reshape_negative_dim",
      "test_reshape_reordered_last_dims", "test_reshape_zero_and_negative_dim",
      "test_reshape_zero_dim", "test_squeeze_negative_axes", "test_unsqueeze_axis_1",
      "test_unsqueeze_axis_2", "test_unsqueeze_axis_3", "test_unsqueeze_negative_axes",
      "test_unsqueeze_two_axes", "test_unsqueeze_unsorted_axes"}},
    {"Activation",
     {"test_clip", "test_sigmoid", "test_hardsigmoid", "test_hardsigmoid_default", "test_hardswish",
      "test_tanh", "test_leakyrelu", "test_leakyrelu_default", "test_elu", "test_elu_default"}},
    {"Binary", {"test_add_bcast", "test_sub_bcast", "test_mul_bcast", "test_div_bcast"}},
    {"Transpose", {"test_transpose_all_permutations_0", "test_transpose_all_permutations_1"}},
    {"Reduce",
     {"test_reduce_max_do_not_keepdims_example", "test_reduce_max_keepdims_example",
      "test_reduce_max_negative_axes_keepdims_example", "test_reduce_mean_do_not_keepdims_example",
      "test_reduce_mean_keepdims_example", "test_reduce_mean_negative_axes_keepdims_example",
      "test_reduce_sum_do_not_keepdims_example", "test_reduce_sum_keepdims_example",
      "test_reduce_sum_negative_axes_keepdims_example",
      "test_reduce_sum_empty_axes_input_noop_example"}},
    {"PadGather", {"test_constant_pad", "test_gather_1", "test_gather_2d_indices"}},
    {"Pooling",
     {"test_globalmaxpool", "test_globalmaxpool_precomputed", "test_maxpool_2d_ceil",
      "test_averagepool_2d_ceil"}},
    {"SoftmaxLastAxis",
     {"test_softmax_axis_2", "test_softmax_negative_axis", "test_softmax_default_axis"}},
};

// --- node tests that fit the IR.

class OnnxNode : public testing::TestWithParam<std::string> {};

TEST_P(OnnxNode, MatchesGoldenOutput) {
  const std::string& test = GetParam();
  const fs::path data = kNodeTests / test / "test_data_set_0";
  const Graph graph = ImportOnnx(NodeTestModel(test), test);
  const onnx::TensorProto input = LoadTensor(data / "input_0.pb");
  const onnx::TensorProto output = LoadTensor(data / "output_0.pb");
  const int batch = static_cast<int>(input.dims(0));
  EXPECT_EQ(graph.input_shape(), Shape(input.dims().begin() + 1, input.dims().end()));
  EXPECT_EQ(graph.output_shape(), Shape(output.dims().begin() + 1, output.dims().end()));
  ExpectClose(RunReference(graph, TensorFloats(input), batch), TensorFloats(output));
}

std::string TestName(const testing::TestParamInfo<std::string>& info) {
  return info.param.substr(std::string("test_").size());
}

INSTANTIATE_TEST_SUITE_P(Conv, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Conv")), TestName);
INSTANTIATE_TEST_SUITE_P(BatchNorm, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("BatchNorm")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Relu, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Relu")), TestName);
INSTANTIATE_TEST_SUITE_P(MaxPool, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("MaxPool")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(AveragePool, OnnxNode,
                         testing::ValuesIn(kGoldenNodeTests.at("AveragePool")), TestName);
INSTANTIATE_TEST_SUITE_P(GlobalAveragePool, OnnxNode,
                         testing::ValuesIn(kGoldenNodeTests.at("GlobalAveragePool")), TestName);
INSTANTIATE_TEST_SUITE_P(Flatten, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Flatten")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Gemm, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Gemm")), TestName);
INSTANTIATE_TEST_SUITE_P(MatMul, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("MatMul")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Softmax, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Softmax")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Identity, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Identity")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Dropout, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Dropout")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Reshape, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Reshape")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Activation, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Activation")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Binary, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Binary")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Transpose, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Transpose")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Reduce, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Reduce")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(PadGather, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("PadGather")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(Pooling, OnnxNode, testing::ValuesIn(kGoldenNodeTests.at("Pooling")),
                         TestName);
INSTANTIATE_TEST_SUITE_P(SoftmaxLastAxis, OnnxNode,
                         testing::ValuesIn(kGoldenNodeTests.at("SoftmaxLastAxis")), TestName);

// --- the same node tests on every compiled optimising backend: a node the backend says it cannot
// run (Backend::UnsupportedReason) must fail its compile, before any work, naming the node, its
// op and the backend; onednn runs every op of the IR. Their kernels round differently from
// ONNX's numpy reference (blocked accumulation, vectorised transcendentals), hence the looser
// tolerance.

std::vector<std::tuple<std::string, std::string>> GoldenTestsOnOptimisingBackends() {
  std::vector<std::tuple<std::string, std::string>> cases;
  for (const std::string& backend : CompiledBackendNames()) {
    if (backend == "reference" || backend == "null") continue;
    for (const auto& [family, tests] : kGoldenNodeTests) {
      for (const std::string& test : tests) cases.emplace_back(backend, test);
    }
  }
  return cases;
}

class OnnxNodeOnBackend : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(OnnxNodeOnBackend, MatchesGoldenOutputOrRefusesNamingTheNode) {
  const auto& [backend_name, test] = GetParam();
  const auto backend = MakeBackend(backend_name);
  if (!backend->unavailable_reason().empty()) GTEST_SKIP() << backend->unavailable_reason();
  const fs::path data = kNodeTests / test / "test_data_set_0";
  const Graph graph = ImportOnnx(NodeTestModel(test), test);
  const onnx::TensorProto input = LoadTensor(data / "input_0.pb");
  const int batch = static_cast<int>(input.dims(0));
  CompileOptions options;
  options.max_batch = batch;
  for (const Node& node : graph.nodes) {
    const std::string reason = backend->UnsupportedReason(graph, node, Precision::kFp32);
    if (reason.empty()) continue;
    EXPECT_NE(backend_name, "onednn") << "onednn must run every op of the IR: " << reason;
    try {
      backend->Compile(graph, options);
      ADD_FAILURE() << backend_name << " compiled a graph it says it cannot run: " << reason;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
      const std::string message = e.what();
      for (const std::string& fragment :
           {"'" + node.name + "'", "'" + backend_name + "'", std::string(OpLabel(node)), reason}) {
        EXPECT_NE(message.find(fragment), std::string::npos) << message << " lacks " << fragment;
      }
    }
    return;
  }
  const auto executable = backend->Compile(graph, options);
  std::vector<float> output(batch * NumElements(graph.output_shape()));
  executable->Run(TensorFloats(input), batch, output);
  const std::vector<float> expected = TensorFloats(LoadTensor(data / "output_0.pb"));
  ASSERT_EQ(output.size(), expected.size());
  for (std::size_t i = 0; i < output.size(); ++i) {
    ASSERT_NEAR(output[i], expected[i], 1e-5 + 1e-4 * std::abs(expected[i])) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Golden, OnnxNodeOnBackend, testing::ValuesIn(GoldenTestsOnOptimisingBackends()),
    [](const testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
      return std::get<0>(info.param) + "_" +
             std::get<1>(info.param).substr(std::string("test_").size());
    });

// --- node tests outside the IR: the import fails with the right kind and a message that names
// the cause.

struct Rejected {
  std::string test;
  ErrorKind kind;
  std::string fragment;  // the op or attribute the message must name
};

// gtest would otherwise print the parameter's bytes, padding included.
void PrintTo(const Rejected& c, std::ostream* os) { *os << c.test; }

class OnnxNodeRejected : public testing::TestWithParam<Rejected> {};

TEST_P(OnnxNodeRejected, FailsNamingTheCause) {
  const Rejected& c = GetParam();
  try {
    ImportOnnx(NodeTestModel(c.test), c.test);
    FAIL() << c.test << " imported";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.kind(), c.kind) << message;
    EXPECT_NE(message.find(c.fragment), std::string::npos) << message;
    EXPECT_NE(message.find(c.test), std::string::npos) << message;  // the source name
  }
}

INSTANTIATE_TEST_SUITE_P(
    Unsupported, OnnxNodeRejected,
    testing::Values(
        Rejected{"test_maxpool_2d_dilations", ErrorKind::kUnsupported,
                 "MaxPool): attribute 'dilations'"},
        Rejected{"test_maxpool_with_argmax_2d_precomputed_strides", ErrorKind::kUnsupported,
                 "MaxPool): attribute 'storage_order'"},
        Rejected{"test_maxpool_with_argmax_2d_precomputed_pads", ErrorKind::kUnsupported,
                 "MaxPool): output 1"},
        Rejected{"test_maxpool_1d_default", ErrorKind::kUnsupported, "MaxPool): input has shape"},
        Rejected{"test_averagepool_3d_default", ErrorKind::kUnsupported, "AveragePool): input"},
        Rejected{"test_softmax_axis_0", ErrorKind::kUnsupported, "Softmax): attribute 'axis' = 0"},
        Rejected{"test_softmax_axis_1", ErrorKind::kUnsupported, "Softmax): attribute 'axis' = 1"},
        Rejected{"test_transpose_default", ErrorKind::kUnsupported, "batch axis must stay first"},
        Rejected{"test_gather_0", ErrorKind::kUnsupported, "axis 0 is the batch axis"},
        Rejected{"test_concat_2d_axis_1", ErrorKind::kUnsupported, "Concat): input 1"},
        Rejected{"test_add", ErrorKind::kUnsupported,
                 "constant 'y' of shape [3, 4, 5] has a batch"},
        Rejected{"test_squeeze", ErrorKind::kUnsupported, "axis 0 is the batch axis"},
        Rejected{"test_flatten_axis2", ErrorKind::kUnsupported, "merge the batch axis"},
        Rejected{"test_reshape_negative_extended_dims", ErrorKind::kUnsupported, "Reshape)"},
        Rejected{"test_unsqueeze_axis_0", ErrorKind::kUnsupported, "axis 0 is the batch axis"},
        Rejected{"test_flatten_axis3", ErrorKind::kUnsupported, "merge the batch axis"},
        Rejected{"test_batchnorm_example_training_mode", ErrorKind::kUnsupported,
                 "BatchNormalization): attribute 'training_mode'"},
        Rejected{"test_gemm_transposeA", ErrorKind::kUnsupported, "Gemm): attribute 'transA'"},
        Rejected{"test_gemm_default_matrix_bias", ErrorKind::kUnsupported, "Gemm): bias 'c'"},
        Rejected{"test_flatten_axis0", ErrorKind::kUnsupported, "Flatten): attribute 'axis' = 0"},
        Rejected{"test_reshape_reordered_all_dims", ErrorKind::kUnsupported, "Reshape)"},
        Rejected{"test_reshape_one_dim", ErrorKind::kUnsupported, "Reshape)"},
        Rejected{"test_dropout_default_mask", ErrorKind::kUnsupported, "Dropout): output 1 'z'"},
        Rejected{"test_convtranspose", ErrorKind::kUnsupported, "op 'ConvTranspose'"},
        Rejected{"test_abs", ErrorKind::kUnsupported, "op 'Abs'"},
        Rejected{"test_maxpool_2d_uint8", ErrorKind::kUnsupported, "element type UINT8"},
        Rejected{"test_identity_sequence", ErrorKind::kUnsupported, "input 'x' is not a tensor"},
        Rejected{"test_dropout_default_old", ErrorKind::kUnsupported, "input 'x' has rank 1"}),
    [](const testing::TestParamInfo<Rejected>& info) {
      return info.param.test.substr(std::string("test_").size());
    });

// --- hand-made models: paths the node tests do not reach.

class ModelBuilder {
 public:
  explicit ModelBuilder(std::int64_t opset = 13) {
    model_.set_ir_version(7);
    model_.add_opset_import()->set_version(opset);
    model_.mutable_graph()->set_name("handmade");
  }

  // dims: -1 is a symbolic dimension (dim_param); any other value is written as dim_value, even
  // 0 or a negative one (a malformed model).
  ModelBuilder& Input(const std::string& name, const std::vector<std::int64_t>& dims) {
    Describe(model_.mutable_graph()->add_input(), name, dims);
    return *this;
  }
  ModelBuilder& Output(const std::string& name, const std::vector<std::int64_t>& dims) {
    Describe(model_.mutable_graph()->add_output(), name, dims);
    return *this;
  }
  // Parameters go to float_data here (the exporters' raw_data path is covered by the node tests
  // and the torchvision model).
  onnx::TensorProto& Initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                 const std::vector<float>& values) {
    onnx::TensorProto& t = *model_.mutable_graph()->add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t.add_dims(d);
    for (float v : values) t.add_float_data(v);
    return t;
  }
  // A Constant node of a 1-D int64 tensor (shapes, pads, axes): how torch exports them.
  ModelBuilder& Int64Constant(const std::string& output, const std::vector<std::int64_t>& values) {
    auto* attr = Node("Constant", {}, output).add_attribute();
    attr->set_name("value");
    attr->set_type(onnx::AttributeProto::TENSOR);
    attr->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    attr->mutable_t()->add_dims(static_cast<std::int64_t>(values.size()));
    for (std::int64_t v : values) attr->mutable_t()->add_int64_data(v);
    return *this;
  }
  onnx::NodeProto& Node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output, const std::string& name = "") {
    onnx::NodeProto& n = *model_.mutable_graph()->add_node();
    n.set_op_type(op);
    n.set_name(name);
    for (const auto& in : inputs) n.add_input(in);
    n.add_output(output);
    return n;
  }
  std::string Bytes() const { return Serialize(model_); }
  Graph Import() const { return ImportOnnx(Bytes(), "handmade.onnx"); }

 private:
  static void Describe(onnx::ValueInfoProto* info, const std::string& name,
                       const std::vector<std::int64_t>& dims) {
    info->set_name(name);
    auto* type = info->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) {
      auto* dim = type->mutable_shape()->add_dim();
      if (d == -1) {
        dim->set_dim_param("batch");
      } else {
        dim->set_dim_value(d);
      }
    }
  }

  onnx::ModelProto model_;
};

void SetInt(onnx::NodeProto& node, const std::string& name, std::int64_t value) {
  auto* attr = node.add_attribute();
  attr->set_name(name);
  attr->set_type(onnx::AttributeProto::INT);
  attr->set_i(value);
}

std::vector<float> RandomValues(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return values;
}

// Asserts that importing throws `kind` with every fragment in its message.
void ExpectImportError(const ModelBuilder& model, ErrorKind kind,
                       const std::vector<std::string>& fragments) {
  try {
    model.Import();
    FAIL() << "imported";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.kind(), kind) << message;
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' in " << message;
    }
  }
}

TEST(OnnxImport, AddsTwoComputedValues) {
  ModelBuilder m;
  m.Input("x", {-1, 2, 3, 3}).Output("y", {-1, 2, 3, 3});
  m.Node("Relu", {"x"}, "r");
  m.Node("Add", {"r", "x"}, "y");
  const Graph graph = m.Import();
  ASSERT_EQ(graph.nodes.size(), 2u);
  const int batch = 3;
  const std::vector<float> x = RandomValues(static_cast<std::size_t>(batch) * 18, 1);
  std::vector<float> expected(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) expected[i] = std::max(x[i], 0.0f) + x[i];
  ExpectClose(RunReference(graph, x, batch), expected);
}

// x + GlobalAveragePool(x): the pooled [C, 1, 1] operand broadcasts over each channel's plane,
// computed here directly.
TEST(OnnxImport, BroadcastsAnAddOfTwoValues) {
  ModelBuilder m;
  m.Input("x", {-1, 2, 3, 3}).Output("y", {-1, 2, 3, 3});
  m.Node("GlobalAveragePool", {"x"}, "g");
  m.Node("Add", {"x", "g"}, "y", "excite");
  const Graph graph = m.Import();
  ASSERT_EQ(graph.nodes.back().op, OpKind::kBinary);
  const std::vector<float> x = RandomValues(std::size_t{2} * 2 * 9, 7);
  const std::vector<float> y = RunReference(graph, x, 2);
  for (int plane = 0; plane < 4; ++plane) {
    double mean = 0.0;
    for (int i = 0; i < 9; ++i) mean += x[plane * 9 + i] / 9.0;
    for (int i = 0; i < 9; ++i) {
      EXPECT_NEAR(y[plane * 9 + i], x[plane * 9 + i] + mean, 1e-5) << plane << ", " << i;
    }
  }
}

// A 1x1 convolution, batch norm and ReLU: the batch norm is folded away, and the result is
// y = relu(scale * (W x + b - mean) / sqrt(var + eps) + shift), computed here directly.
TEST(OnnxImport, FoldsBatchNormIntoConv) {
  const std::vector<float> w = RandomValues(std::size_t{3} * 2, 2), b = {0.1f, -0.2f, 0.3f};
  const std::vector<float> scale = {0.5f, 1.5f, 1.0f}, shift = {0.0f, 0.2f, -0.1f},
                           mean = {0.3f, -0.1f, 0.0f}, var = {0.5f, 2.0f, 1.0f};
  ModelBuilder m;
  m.Input("x", {-1, 2, 2, 2}).Output("y", {-1, 3, 2, 2});
  m.Initializer("w", {3, 2, 1, 1}, w);
  m.Initializer("b", {3}, b);
  m.Initializer("scale", {3}, scale);
  m.Initializer("shift", {3}, shift);
  m.Initializer("mean", {3}, mean);
  m.Initializer("var", {3}, var);
  m.Node("Conv", {"x", "w", "b"}, "c");
  m.Node("BatchNormalization", {"c", "scale", "shift", "mean", "var"}, "bn");
  m.Node("Relu", {"bn"}, "y");
  const Graph graph = m.Import();
  ASSERT_EQ(graph.nodes.size(), 2u);
  EXPECT_EQ(graph.nodes[0].op, OpKind::kConv2D);
  EXPECT_EQ(graph.nodes[1].op, OpKind::kRelu);

  const int batch = 2, plane = 4;
  const std::vector<float> x = RandomValues(static_cast<std::size_t>(batch) * 2 * plane, 3);
  std::vector<float> expected(static_cast<std::size_t>(batch) * 3 * plane);
  for (int n = 0; n < batch; ++n) {
    for (int o = 0; o < 3; ++o) {
      for (int p = 0; p < plane; ++p) {
        double conv = b[o];
        for (int c = 0; c < 2; ++c) conv += double{w[o * 2 + c]} * x[(n * 2 + c) * plane + p];
        const double bn = scale[o] * (conv - mean[o]) / std::sqrt(var[o] + 1e-5) + shift[o];
        expected[(n * 3 + o) * plane + p] = static_cast<float>(std::max(bn, 0.0));
      }
    }
  }
  ExpectClose(RunReference(graph, x, batch), expected);
}

TEST(OnnxImport, MatMulThenAddBecomesOneDenseLayer) {
  const std::vector<float> b = RandomValues(std::size_t{4} * 3, 4), c = {1.0f, -2.0f, 0.5f};
  ModelBuilder m;
  m.Input("x", {-1, 4}).Output("y", {-1, 3});
  m.Initializer("b", {4, 3}, b);
  m.Initializer("c", {3}, c);
  m.Node("MatMul", {"x", "b"}, "xb");
  m.Node("Add", {"xb", "c"}, "y");
  const Graph graph = m.Import();
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op, OpKind::kDense);

  const int batch = 2;
  const std::vector<float> x = RandomValues(static_cast<std::size_t>(batch) * 4, 5);
  std::vector<float> expected(static_cast<std::size_t>(batch) * 3);
  for (int n = 0; n < batch; ++n) {
    for (int j = 0; j < 3; ++j) {
      double sum = c[j];
      for (int k = 0; k < 4; ++k) sum += double{x[n * 4 + k]} * b[k * 3 + j];
      expected[n * 3 + j] = static_cast<float>(sum);
    }
  }
  ExpectClose(RunReference(graph, x, batch), expected);
}

// torch exports x.view(x.size(0), -1) at a fixed batch as Reshape with a constant shape.
TEST(OnnxImport, ReshapeToBatchByMinusOneFromAConstantIsAFlatten) {
  ModelBuilder m;
  m.Input("x", {-1, 2, 3, 3}).Output("y", {-1, 18}).Int64Constant("shape", {0, -1});
  m.Node("Reshape", {"x", "shape"}, "y");
  const Graph graph = m.Import();
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op, OpKind::kFlatten);
  EXPECT_EQ(graph.output_shape(), (Shape{18}));
  const std::vector<float> x = RandomValues(std::size_t{2} * 18, 6);
  ExpectClose(RunReference(graph, x, 2), x);
}

// PyTorch exports AvgPool2d(2) (count_include_pad) as a Pad of nothing, then AveragePool: the Pad
// is the identity and leaves no node, so backends without Pad (int8) still run the model.
TEST(OnnxImport, APadOfNothingIsTheIdentity) {
  ModelBuilder m;
  m.Input("x", {-1, 1, 2, 2})
      .Output("y", {-1, 1, 1, 1})
      .Int64Constant("pads", {0, 0, 0, 0, 0, 0, 0, 0});
  m.Node("Pad", {"x", "pads"}, "padded");
  onnx::NodeProto& pool = m.Node("AveragePool", {"padded"}, "y");
  auto* kernel = pool.add_attribute();
  kernel->set_name("kernel_shape");
  kernel->set_type(onnx::AttributeProto::INTS);
  kernel->add_ints(2);
  kernel->add_ints(2);
  const Graph graph = m.Import();
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op, OpKind::kAveragePool);
  ExpectClose(RunReference(graph, {1.0f, 2.0f, 3.0f, 6.0f}, 1), {3.0f});
}

// Before opset 13 Softmax's default axis is 1 and means "coerce to 2-D there"; on [batch, features]
// that is the same softmax over the features as opset 13's default (-1).
TEST(OnnxImport, SoftmaxBeforeOpset13WorksOverTheFeatures) {
  ModelBuilder m(11);
  m.Input("x", {-1, 5}).Output("y", {-1, 5});
  m.Node("Softmax", {"x"}, "y");
  const Graph graph = m.Import();
  const int batch = 2;
  const std::vector<float> x = RandomValues(static_cast<std::size_t>(batch) * 5, 7);
  std::vector<float> expected(x.size());
  for (int n = 0; n < batch; ++n) {
    double total = 0.0;
    for (int i = 0; i < 5; ++i) total += std::exp(double{x[n * 5 + i]});
    for (int i = 0; i < 5; ++i) {
      expected[n * 5 + i] = static_cast<float>(std::exp(double{x[n * 5 + i]}) / total);
    }
  }
  ExpectClose(RunReference(graph, x, batch), expected);
}

TEST(OnnxImport, RejectsAnUnsupportedOpNamingTheNode) {
  ModelBuilder m;
  m.Input("x", {-1, 4}).Output("y", {-1, 4});
  m.Node("Softplus", {"x"}, "y", "gate");
  ExpectImportError(m, ErrorKind::kUnsupported, {"node 'gate'", "op 'Softplus'"});
}

TEST(OnnxImport, RejectsAnUnsupportedAttributeNamingIt) {
  ModelBuilder m;
  m.Input("x", {-1, 1, 4, 4}).Output("y", {-1, 1, 4, 4});
  m.Initializer("w", {1, 1, 1, 1}, {1.0f});
  SetInt(m.Node("Conv", {"x", "w"}, "y", "conv"), "frobnicate", 1);
  ExpectImportError(m, ErrorKind::kUnsupported, {"node 'conv'", "Conv", "attribute 'frobnicate'"});
}

TEST(OnnxImport, RejectsNonFloatParametersNamingTheTensor) {
  ModelBuilder m;
  m.Input("x", {-1, 1, 4, 4}).Output("y", {-1, 1, 4, 4});
  onnx::TensorProto& w = m.Initializer("w", {1, 1, 1, 1}, {});
  w.set_data_type(onnx::TensorProto::DOUBLE);
  w.add_double_data(1.0);
  m.Node("Conv", {"x", "w"}, "y", "conv");
  ExpectImportError(m, ErrorKind::kUnsupported, {"node 'conv'", "tensor 'w'", "DOUBLE"});
}

TEST(OnnxImport, RejectsExternalDataNamingTheTensor) {
  ModelBuilder m;
  m.Input("x", {-1, 1, 4, 4}).Output("y", {-1, 1, 4, 4});
  onnx::TensorProto& w = m.Initializer("w", {1, 1, 1, 1}, {});
  w.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* location = w.add_external_data();
  location->set_key("location");
  location->set_value("weights.bin");
  m.Node("Conv", {"x", "w"}, "y", "conv");
  ExpectImportError(m, ErrorKind::kUnsupported, {"tensor 'w'", "external", "weights.bin"});
}

TEST(OnnxImport, RequiresExactlyOneRealInputAndOneOutput) {
  ModelBuilder two_inputs;
  two_inputs.Input("x", {-1, 4}).Input("z", {-1, 4}).Output("y", {-1, 4});
  two_inputs.Node("Add", {"x", "z"}, "y");
  ExpectImportError(two_inputs, ErrorKind::kUnsupported, {"2 real inputs", "'x', 'z'"});

  ModelBuilder two_outputs;
  two_outputs.Input("x", {-1, 4}).Output("y", {-1, 4}).Output("r", {-1, 4});
  two_outputs.Node("Relu", {"x"}, "r");
  two_outputs.Node("Relu", {"r"}, "y");
  ExpectImportError(two_outputs, ErrorKind::kUnsupported, {"2 outputs"});
}

TEST(OnnxImport, RequiresAFixedPerSampleShape) {
  ModelBuilder m;
  m.Input("x", {-1, -1, 4, 4}).Output("y", {-1, -1, 4, 4});
  m.Node("Relu", {"x"}, "y");
  ExpectImportError(m, ErrorKind::kUnsupported, {"input 'x' dimension 1 is symbolic"});
}

TEST(OnnxImport, RejectsZeroAndNegativeDimensionsNamingTheValue) {
  ModelBuilder zero;
  zero.Input("x", {-1, 0, 4, 4}).Output("y", {-1, 0, 4, 4});
  zero.Node("Relu", {"x"}, "y");
  ExpectImportError(zero, ErrorKind::kInvalidArgument, {"input 'x' dimension 1 is 0", "positive"});

  ModelBuilder negative;
  negative.Input("x", {-1, 3, -5, 4}).Output("y", {-1, 3, 4, 4});
  negative.Node("Relu", {"x"}, "y");
  ExpectImportError(negative, ErrorKind::kInvalidArgument, {"input 'x' dimension 2 is -5"});

  ModelBuilder output;
  output.Input("x", {-1, 3, 4, 4}).Output("y", {-1, 3, 0, 4});
  output.Node("Relu", {"x"}, "y");
  ExpectImportError(output, ErrorKind::kInvalidArgument, {"output 'y' dimension 2 is 0"});
}

TEST(OnnxImport, RejectsAnInputWhoseElementCountOverflows) {
  ModelBuilder m;
  m.Input("x", {-1, std::int64_t{1} << 40, std::int64_t{1} << 30, 1}).Output("y", {});
  m.Node("Relu", {"x"}, "y");
  ExpectImportError(m, ErrorKind::kInvalidArgument,
                    {"handmade.onnx", "input 'x'", "[1099511627776, 1073741824, 1]", "64 bits"});
}

TEST(OnnxImport, RejectsAParameterWhoseElementCountOverflowsNamingIt) {
  ModelBuilder m;
  m.Input("x", {-1, 1, 4, 4}).Output("y", {});
  m.Initializer("w", {std::int64_t{1} << 40, std::int64_t{1} << 40, 1, 1}, {});
  m.Node("Conv", {"x", "w"}, "y", "conv");
  ExpectImportError(m, ErrorKind::kInvalidArgument, {"node 'conv'", "tensor 'w'", "64 bits"});

  ModelBuilder negative;
  negative.Input("x", {-1, 1, 4, 4}).Output("y", {});
  negative.Initializer("w", {-2, 1, 1, 1}, {});
  negative.Node("Conv", {"x", "w"}, "y", "conv");
  ExpectImportError(negative, ErrorKind::kInvalidArgument, {"tensor 'w'", "dimension 0 is -2"});
}

TEST(OnnxImport, RejectsSamePaddingWhoseWindowOverflows) {
  ModelBuilder m;
  m.Input("x", {-1, 1, 4, 4}).Output("y", {});
  onnx::NodeProto& pool = m.Node("MaxPool", {"x"}, "y", "pool");
  auto* kernel = pool.add_attribute();
  kernel->set_name("kernel_shape");
  kernel->set_type(onnx::AttributeProto::INTS);
  kernel->add_ints(3);
  kernel->add_ints(3);
  auto* dilations = pool.add_attribute();
  dilations->set_name("dilations");
  dilations->set_type(onnx::AttributeProto::INTS);
  dilations->add_ints(std::int64_t{1} << 62);
  dilations->add_ints(1);
  auto* auto_pad = pool.add_attribute();
  auto_pad->set_name("auto_pad");
  auto_pad->set_type(onnx::AttributeProto::STRING);
  auto_pad->set_s("SAME_UPPER");
  ExpectImportError(m, ErrorKind::kInvalidArgument, {"node 'pool'", "auto_pad", "64 bits"});
}

TEST(OnnxImport, RejectsBytesThatAreNotAModel) {
  try {
    ImportOnnx(std::string("\xff\xff\xff\xff", 4), "garbage.onnx");
    FAIL() << "imported";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("garbage.onnx"), std::string::npos) << e.what();
  }
}

TEST(OnnxImport, ReadsAFileAndReportsAMissingOne) {
  const Graph graph = ImportOnnx(kNodeTests / "test_relu" / "model.onnx");
  EXPECT_EQ(graph.input_shape(), (Shape{4, 5}));
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op, OpKind::kRelu);
  try {
    ImportOnnx(fs::path("/nonexistent/model.onnx"));
    FAIL() << "imported";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.onnx"), std::string::npos);
  }
}

// --- a ResNet-50 exported by Debian's PyTorch (integration label; the onnx_resnet50 fixture
// runs tools/export_torchvision_onnx.py into the build tree first).

TEST(OnnxTorchvision, ResNet50MatchesPyTorch) {
  ASSERT_TRUE(fs::exists(kResNet50Dir / "model.onnx"))
      << "run: /usr/bin/python3 tools/export_torchvision_onnx.py --model resnet50 --out "
      << kResNet50Dir << " (ctest runs it as the onnx_export_resnet50 fixture)";
  const Graph graph = ImportOnnx(kResNet50Dir / "model.onnx");
  EXPECT_EQ(graph.name, "resnet50");  // the script names the ONNX graph after the model
  EXPECT_EQ(graph.input_shape(), (Shape{3, 224, 224}));
  EXPECT_EQ(graph.output_shape(), (Shape{1000}));

  int convs = 0, batch_norms = 0;
  std::int64_t conv_biases = 0;
  for (const Node& node : graph.nodes) {
    if (node.op == OpKind::kBatchNorm) ++batch_norms;
    if (const auto* conv = std::get_if<Conv2DAttrs>(&node.attrs)) {
      ++convs;
      conv_biases += static_cast<std::int64_t>(conv->bias.size());
    }
  }
  EXPECT_EQ(convs, 53);
  EXPECT_EQ(batch_norms, 0) << "every batch norm follows a convolution and folds into it";
  // torchvision's 25,557,032 parameters count each batch norm's scale and shift (2 per channel);
  // folded, they become one convolution bias per channel.
  EXPECT_EQ(graph.ParameterCount() + conv_biases, 25557032);
  EXPECT_NEAR(static_cast<double>(graph.MacsPerSample()), 4.089e9, 0.005e9);

  const int batch = 2;
  const std::vector<float> input = ReadFloats(kResNet50Dir / "input.bin");
  const std::vector<float> expected = ReadFloats(kResNet50Dir / "torch_output.bin");
  ASSERT_EQ(input.size(), static_cast<std::size_t>(batch * 3 * 224 * 224));
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(batch * 1000));
  const std::vector<float> output = RunReference(graph, input, batch);
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < output.size(); ++i) {
    diff += (double{output[i]} - expected[i]) * (double{output[i]} - expected[i]);
    norm += double{expected[i]} * expected[i];
  }
  ASSERT_GT(norm, 0.0);
  EXPECT_LE(std::sqrt(diff / norm), 1e-4) << "relative L2 error against PyTorch";
}

}  // namespace
}  // namespace sonic
