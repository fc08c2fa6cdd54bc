// What the contract suite does not reach: the backend's description, its errors, and graphs
// that exercise the non-fused paths (standalone Add/ReLU/BatchNorm, a shortcut still read after
// the fused Add, a residual that is the convolution's own input), each against `reference`.
#include "backends/onednn/onednn_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "backends/accuracy.h"
#include "backends/backend_testing.h"
#include "backends/onednn/onednn_check.h"
#include "backends/reference/reference_backend.h"
#include "core/error.h"
#include "core/random.h"
#include "models/zoo.h"

namespace sonic {
namespace {

using testing::RunOnce;

std::vector<float> Seeded(std::size_t count, std::uint64_t seed, double low = 0.0) {
  Random random(seed);
  std::vector<float> data(count);
  for (float& v : data) v = static_cast<float>(random.Uniform(low, 1.0));
  return data;
}

Conv2DAttrs Conv3x3(std::int64_t in_channels, std::int64_t out_channels, std::uint64_t seed) {
  Conv2DAttrs conv;
  conv.out_channels = out_channels;
  conv.kernel = {3, 3};
  conv.pads = {1, 1, 1, 1};
  conv.weight = Seeded(out_channels * in_channels * 9, seed, -1.0);
  for (float& w : conv.weight) w *= 0.3f;
  conv.bias = Seeded(out_channels, seed + 1, -1.0);
  return conv;
}

DenseAttrs Dense(std::int64_t in_features, std::int64_t out_features) {
  DenseAttrs dense;
  dense.out_features = out_features;
  dense.weight = Seeded(in_features * out_features, 5, -1.0);
  dense.bias = Seeded(out_features, 6, -1.0);
  return dense;
}

ValueId Classifier(Graph& g, ValueId x, std::int64_t channels) {
  x = g.AddNode("gap", OpKind::kGlobalAveragePool, {x});
  x = g.AddNode("flatten", OpKind::kFlatten, {x});
  x = g.AddNode("fc", OpKind::kDense, {x}, Dense(channels, 5));
  return g.AddNode("softmax", OpKind::kSoftmax, {x});
}

// conv -> relu (r); conv + r -> relu (t) with r still read by a standalone Add(t, r); then a
// standalone BatchNorm (after an Add, so not folded) and a standalone ReLU.
Graph UnfusedGraph() {
  Graph g;
  g.name = "unfused";
  g.input = g.AddValue("input", {4, 8, 8});
  const ValueId r = g.AddNode("relu1", OpKind::kRelu,
                              {g.AddNode("conv1", OpKind::kConv2D, {g.input}, Conv3x3(4, 8, 1))});
  const ValueId c2 = g.AddNode("conv2", OpKind::kConv2D, {r}, Conv3x3(8, 8, 2));
  const ValueId t = g.AddNode("relu2", OpKind::kRelu, {g.AddNode("add1", OpKind::kAdd, {c2, r})});
  const ValueId u = g.AddNode("add2", OpKind::kAdd, {t, r});
  BatchNormAttrs bn;
  bn.scale = Seeded(8, 7, 0.5);
  bn.shift = Seeded(8, 8, -0.5);
  bn.mean = Seeded(8, 9, -0.5);
  bn.variance = Seeded(8, 10, 0.5);
  const ValueId v =
      g.AddNode("relu3", OpKind::kRelu, {g.AddNode("bn", OpKind::kBatchNorm, {u}, bn)});
  g.output = Classifier(g, v, 8);
  InferShapes(g);
  return g;
}

// y = relu(conv(x) + x): the residual is the network input and the convolution's own input.
Graph SelfResidualGraph() {
  Graph g;
  g.name = "self_residual";
  g.input = g.AddValue("input", {16, 6, 6});
  const ValueId c = g.AddNode("conv", OpKind::kConv2D, {g.input}, Conv3x3(16, 16, 3));
  const ValueId y =
      g.AddNode("relu", OpKind::kRelu, {g.AddNode("add", OpKind::kAdd, {c, g.input})});
  g.output = Classifier(g, y, 16);
  InferShapes(g);
  return g;
}

// Two 3x3 stride-1 convolutions of ResNet's width (where oneDNN has Winograd kernels), read as
// logits: no softmax to flatten the differences.
Graph Wide3x3Graph() {
  Graph g;
  g.name = "wide_3x3";
  g.input = g.AddValue("input", {64, 14, 14});
  ValueId x = g.AddNode("conv1", OpKind::kConv2D, {g.input}, Conv3x3(64, 64, 11));
  x = g.AddNode("relu1", OpKind::kRelu, {x});
  x = g.AddNode("conv2", OpKind::kConv2D, {x}, Conv3x3(64, 64, 12));
  x = g.AddNode("gap", OpKind::kGlobalAveragePool, {x});
  x = g.AddNode("flatten", OpKind::kFlatten, {x});
  g.output = g.AddNode("fc", OpKind::kDense, {x}, Dense(64, 5));
  InferShapes(g);
  return g;
}

// A particle-flow network: dense layers over particles x features (inner products over the
// rows, a fused HardSwish), a sum over the particles, then a classifier.
Graph ParticleFlowGraph() {
  Graph g;
  g.name = "particle_flow";
  g.input = g.AddValue("particles", {8, 6});
  ValueId x = g.AddNode("phi1", OpKind::kDense, {g.input}, Dense(6, 16));
  x = g.AddNode("relu1", OpKind::kRelu, {x});
  x = g.AddNode("phi2", OpKind::kDense, {x}, Dense(16, 16));
  x = g.AddNode("hardswish", OpKind::kActivation, {x},
                ActivationAttrs{.kind = ActivationKind::kHardSwish});
  x = g.AddNode("sum", OpKind::kReduce, {x},
                ReduceAttrs{.kind = ReduceKind::kSum, .axes = {0}, .keep_dims = false});
  x = g.AddNode("f", OpKind::kDense, {x}, Dense(16, 5));
  g.output = g.AddNode("softmax", OpKind::kSoftmax, {x});
  InferShapes(g);
  return g;
}

// Every op beyond the CNN core, with two-value operands: a fused Clip (ReLU6), a gate broadcast
// over a feature map (Mul), swapped Sub and Div (the broadcast operand first), a constant Sub
// with the constant first, Concat of blocked and plain inputs, ceil-mode pooling, Pad, Gather,
// Transpose, Reshape, a two-value MatMul, Reduce, GlobalMaxPool, standalone Elu and HardSigmoid
// (two eltwise ops), and a Concat reading a Flatten.
Graph EveryOpGraph() {
  Graph g;
  g.name = "every_op";
  g.input = g.AddValue("input", {4, 8, 8});
  ValueId c1 = g.AddNode("conv1", OpKind::kConv2D, {g.input}, Conv3x3(4, 8, 21));
  c1 = g.AddNode("relu6", OpKind::kActivation, {c1},
                 ActivationAttrs{.kind = ActivationKind::kClip, .alpha = 0.0f, .beta = 6.0f});
  const ValueId c2 = g.AddNode("conv2", OpKind::kConv2D, {c1}, Conv3x3(8, 8, 22));
  const ValueId gate =
      g.AddNode("gate", OpKind::kActivation, {g.AddNode("gap", OpKind::kGlobalAveragePool, {c2})},
                ActivationAttrs{.kind = ActivationKind::kSigmoid});
  const ValueId mul =
      g.AddNode("mul", OpKind::kBinary, {c2, gate},
                BinaryAttrs{.kind = BinaryKind::kMul, .constant = {}, .constant_shape = {}});
  const ValueId sub =
      g.AddNode("sub", OpKind::kBinary, {gate, mul},
                BinaryAttrs{.kind = BinaryKind::kSub, .constant = {}, .constant_shape = {}});
  const ValueId div = g.AddNode(
      "div", OpKind::kBinary,
      {gate,
       g.AddNode("abs", OpKind::kActivation, {mul},
                 ActivationAttrs{.kind = ActivationKind::kClip, .alpha = 0.5f, .beta = 3.0f})},
      BinaryAttrs{.kind = BinaryKind::kDiv, .constant = {}, .constant_shape = {}});
  const ValueId cat = g.AddNode("cat", OpKind::kConcat, {mul, sub, div, c2}, AxisAttrs{.axis = 0});
  PoolAttrs pool;
  pool.kernel = {3, 3};
  pool.stride = {2, 2};
  pool.ceil_mode = true;
  const ValueId pooled = g.AddNode("pool", OpKind::kMaxPool, {cat}, pool);
  const ValueId padded = g.AddNode("pad", OpKind::kPad, {pooled},
                                   PadAttrs{.begin = {0, 1, 1}, .end = {0, 1, 0}, .value = 0.5f});
  const ValueId elu = g.AddNode("elu", OpKind::kActivation, {padded},
                                ActivationAttrs{.kind = ActivationKind::kElu, .alpha = 0.7f});
  const ValueId picked =
      g.AddNode("gather", OpKind::kGather, {elu},
                GatherAttrs{.axis = 0, .indices = {3, 0, 30}, .indices_shape = {3}});
  const ValueId moved =
      g.AddNode("transpose", OpKind::kTranspose, {picked}, TransposeAttrs{.perm = {1, 2, 0}});
  g.output = moved;  // for the shapes so far
  InferShapes(g);
  const Shape moved_shape = g.values[moved].shape;
  const std::int64_t positions = moved_shape[0] * moved_shape[1];
  const ValueId rows =
      g.AddNode("rows", OpKind::kReshape, {moved}, ReshapeAttrs{.shape = {positions, 3}});
  const ValueId columns =
      g.AddNode("columns", OpKind::kReshape, {moved}, ReshapeAttrs{.shape = {3, positions}});
  const ValueId product = g.AddNode("matmul", OpKind::kMatMul, {rows, columns});
  const ValueId mean =
      g.AddNode("mean", OpKind::kReduce, {product},
                ReduceAttrs{.kind = ReduceKind::kMean, .axes = {1}, .keep_dims = false});
  ValueId peak = g.AddNode("gmp", OpKind::kGlobalMaxPool, {picked});
  peak =
      g.AddNode("hardsigmoid", OpKind::kActivation, {peak},
                ActivationAttrs{.kind = ActivationKind::kHardSigmoid, .alpha = 0.2f, .beta = 0.5f});
  peak = g.AddNode("flip", OpKind::kBinary, {peak},
                   BinaryAttrs{.kind = BinaryKind::kSub,
                               .constant = {1.0f, 2.0f, 3.0f},
                               .constant_shape = {3, 1, 1},
                               .constant_first = true});
  const ValueId flat = g.AddNode("flatten", OpKind::kFlatten, {peak});
  const ValueId features =
      g.AddNode("features", OpKind::kConcat, {mean, flat}, AxisAttrs{.axis = 0});
  const std::int64_t count = positions + 3;
  // The logits, not probabilities: an error anywhere above shows in them undiluted.
  g.output = g.AddNode("fc", OpKind::kDense, {features}, Dense(count, 5));
  InferShapes(g);
  return g;
}

double ErrorAgainstReference(const Graph& graph, Precision precision, int threads = 0,
                             const std::string& backend_options = "") {
  constexpr int kBatch = 3;
  const auto input = Seeded(kBatch * NumElements(graph.input_shape()), 42);
  CompileOptions options;
  options.max_batch = kBatch;
  const auto ref = RunOnce(*MakeReferenceBackend(), graph, options, input, kBatch);
  options.precision = precision;
  options.threads = threads;
  options.backend_options = backend_options;
  return RelativeError(RunOnce(*MakeOneDnnBackend(), graph, options, input, kBatch), ref);
}

TEST(OneDnnBackend, DescribesItself) {
  auto backend = MakeOneDnnBackend();
  EXPECT_EQ(backend->name(), "onednn");
  EXPECT_EQ(backend->device_kind(), DeviceKind::kCpu);
  EXPECT_FALSE(backend->device_name().empty());
  EXPECT_EQ(backend->library_version().rfind("oneDNN 2.", 0), 0u) << backend->library_version();
  EXPECT_TRUE(backend->Supports(Precision::kFp32));
  EXPECT_FALSE(backend->Supports(Precision::kFp16));
}

TEST(OneDnnBackend, RejectsAnUnsupportedPrecisionNamingIt) {
  CompileOptions options;
  options.precision = Precision::kFp16;
  try {
    MakeOneDnnBackend()->Compile(BuildJetCnn(), options);
    FAIL() << "fp16 compiled";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("fp16"), std::string::npos) << e.what();
  }
}

TEST(OneDnnBackend, RejectsCalibrationDataOfTheWrongSize) {
  const std::vector<float> calibration(1601, 0.5f);  // jet_cnn samples are 1x40x40
  CompileOptions options;
  options.calibration = calibration;
  EXPECT_THROW(MakeOneDnnBackend()->Compile(BuildJetCnn(), options), Error);
}

TEST(OneDnnBackend, StandaloneAddReluBatchNormMatchReference) {
  const Graph graph = UnfusedGraph();
  EXPECT_LE(ErrorAgainstReference(graph, Precision::kFp32), 1e-4);
  if (MakeOneDnnBackend()->Supports(Precision::kBf16)) {
    EXPECT_LE(ErrorAgainstReference(graph, Precision::kBf16), 2e-2);
  }
}

TEST(OneDnnBackend, ParticleFlowOverParticlesTimesFeaturesMatchesReference) {
  const Graph graph = ParticleFlowGraph();
  EXPECT_LE(ErrorAgainstReference(graph, Precision::kFp32), 1e-5);
  if (MakeOneDnnBackend()->Supports(Precision::kBf16)) {
    EXPECT_LE(ErrorAgainstReference(graph, Precision::kBf16), 2e-2);
  }
}

TEST(OneDnnBackend, EveryOpBeyondTheCnnCoreMatchesReference) {
  const Graph graph = EveryOpGraph();
  EXPECT_LE(ErrorAgainstReference(graph, Precision::kFp32), 1e-5);
  if (MakeOneDnnBackend()->Supports(Precision::kBf16)) {
    EXPECT_LE(ErrorAgainstReference(graph, Precision::kBf16), 2e-2);
  }
}

TEST(OneDnnBackend, Int8RefusesAnOpItLacksBeforeAnyWorkNamingNodeAndBackend) {
  if (!MakeOneDnnBackend()->Supports(Precision::kInt8)) GTEST_SKIP() << "no int8 ISA here";
  CompileOptions options;
  options.precision = Precision::kInt8;
  try {
    MakeOneDnnBackend()->Compile(ParticleFlowGraph(), options);
    FAIL() << "int8 compiled a rank-2 dense layer";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    const std::string message = e.what();
    EXPECT_NE(message.find("backend 'onednn' cannot run node 'phi1' (Dense) at int8"),
              std::string::npos)
        << message;
  }
}

TEST(OneDnnBackend, Int8RejectsAnAddThatIsNotFusedNamingTheNode) {
  if (!MakeOneDnnBackend()->Supports(Precision::kInt8)) GTEST_SKIP() << "no int8 ISA here";
  CompileOptions options;
  options.precision = Precision::kInt8;
  try {
    MakeOneDnnBackend()->Compile(UnfusedGraph(), options);
    FAIL() << "compiled";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("add2"), std::string::npos) << e.what();
  }
}

TEST(OneDnnBackend, ResidualThatIsTheConvolutionInputMatchesReference) {
  const Graph graph = SelfResidualGraph();
  EXPECT_LE(ErrorAgainstReference(graph, Precision::kFp32), 1e-4);
  if (MakeOneDnnBackend()->Supports(Precision::kInt8)) {
    EXPECT_LE(ErrorAgainstReference(graph, Precision::kInt8), 5e-2);
  }
}

TEST(OneDnnBackend, WinogradAndDirectConvolutionMatchReference) {
  const Graph graph = Wide3x3Graph();
  EXPECT_LE(ErrorAgainstReference(graph, Precision::kFp32, 0, "conv=winograd"), 1e-4);
  EXPECT_LE(ErrorAgainstReference(graph, Precision::kFp32, 0, "conv=direct"), 1e-4);
  EXPECT_LE(ErrorAgainstReference(graph, Precision::kFp32, 0, ""), 1e-4);
}

// One mapping for every backend (backends/backend.h): out of memory is kResourceExhausted.
TEST(OneDnnCheck, OutOfMemoryIsResourceExhaustedOtherFailuresBackend) {
  try {
    CheckDnnl(dnnl_out_of_memory, "dnnl_memory_create");
    FAIL() << "no Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kResourceExhausted);
    EXPECT_STREQ(error.what(), "onednn: dnnl_memory_create failed (status out_of_memory)");
  }
  try {
    CheckDnnl(dnnl_runtime_error, "executing convolution 'conv1'", "oneDNN's words");
    FAIL() << "no Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kBackend);
    EXPECT_STREQ(error.what(),
                 "onednn: executing convolution 'conv1' failed: oneDNN's words (status "
                 "runtime_error)");
  }
  EXPECT_NO_THROW(CheckDnnl(dnnl_success, "anything"));
}

// A real allocation oneDNN refuses: the macro names the call by its source text.
TEST(OneDnnCheck, TheMacroNamesTheCallThatRanOutOfMemory) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer aborts the process on an allocation this large instead of failing it.
  GTEST_SKIP() << "AddressSanitizer aborts on the refused allocation";
#endif
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const dnnl::memory::desc huge({dnnl::memory::dim{1} << 50}, dnnl::memory::data_type::f32,
                                dnnl::memory::format_tag::a);
  try {
    SONIC_DNNL(dnnl::memory(huge, engine));
    FAIL() << "a 4 PiB buffer was allocated";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kResourceExhausted) << error.what();
    EXPECT_NE(std::string(error.what()).find("onednn: dnnl::memory(huge, engine) failed"),
              std::string::npos)
        << error.what();
  }
}

// The idle policy the process was started with (Backend::settings) is the one Compile accepts;
// any other is refused naming the environment it needs.
TEST(OneDnnBackend, IdleOptionMustMatchThePolicyInEffect) {
  const auto backend = MakeOneDnnBackend();
  const std::string settings = backend->settings();
  ASSERT_TRUE(settings.starts_with("idle=")) << settings;
  CompileOptions options;
  options.backend_options = "conv=direct," + settings;
  EXPECT_NO_THROW(backend->Compile(BuildJetCnn(), options));
  options.backend_options = settings == "idle=passive" ? "idle=active" : "idle=passive";
  try {
    backend->Compile(BuildJetCnn(), options);
    FAIL() << "compiled with " << options.backend_options << " while " << settings;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("OMP_WAIT_POLICY="), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("this process has " + settings), std::string::npos)
        << e.what();
  }
}

TEST(OneDnnBackend, RejectsBadAndRepeatedBackendOptionsNamingTheForms) {
  for (const char* bad : {"idle=sleep", "idle=spin:20", "conv=direct,conv=direct",
                          "idle=passive,idle=passive", "threads=2"}) {
    CompileOptions options;
    options.backend_options = bad;
    try {
      MakeOneDnnBackend()->Compile(BuildJetCnn(), options);
      ADD_FAILURE() << "compiled with " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << bad;
      EXPECT_NE(std::string(e.what()).find("spin:<duration>"), std::string::npos) << e.what();
    }
  }
  EXPECT_NE(MakeOneDnnBackend()->option_forms().find("idle="), std::string::npos);
}

TEST(OneDnnBackend, RejectsAnOptionInTheDeviceSelectorSayingWhereItGoes) {
  CompileOptions options;
  options.device = "conv=direct";
  try {
    MakeOneDnnBackend()->Compile(BuildJetCnn(), options);
    FAIL() << "compiled";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("takes no selector"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--backend-options"), std::string::npos) << e.what();
  }
}

TEST(OneDnnBackend, RejectsAnUnknownConvolutionNamingTheChoices) {
  CompileOptions options;
  options.backend_options = "conv=fft";
  try {
    MakeOneDnnBackend()->Compile(BuildJetCnn(), options);
    FAIL() << "compiled";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("conv=fft"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("conv=direct"), std::string::npos) << e.what();
  }
}

TEST(OneDnnBackend, OneThreadGivesTheSameResult) {
  EXPECT_LE(ErrorAgainstReference(BuildJetCnn(), Precision::kFp32, 1), 1e-4);
}

// Every batch size runs on the smallest compiled plan that holds it (1, 2, 4, 5 for max 5).
TEST(OneDnnBackend, EveryBatchSizeUpToTheMaximumGivesTheReferenceRows) {
  const Graph graph = BuildJetCnn();
  constexpr int kMax = 5;
  const std::size_t in_size = NumElements(graph.input_shape());
  const std::size_t out_size = NumElements(graph.output_shape());
  const auto input = Seeded(kMax * in_size, 3);
  CompileOptions options;
  options.max_batch = kMax;
  const auto ref = RunOnce(*MakeReferenceBackend(), graph, options, input, kMax);
  auto executable = MakeOneDnnBackend()->Compile(graph, options);
  for (int batch = 1; batch <= kMax; ++batch) {
    std::vector<float> out(batch * out_size);
    DeviceTiming timing;
    executable->Run(std::span(input).first(batch * in_size), batch, out, &timing);
    EXPECT_LE(RelativeError(out, std::span(ref).first(batch * out_size)), 1e-4) << batch;
    EXPECT_GE(timing.compute_ns, 0);
  }
}

// Calibrating on the inputs themselves must do at least as well as the seeded default.
TEST(OneDnnBackend, Int8UsesTheCalibrationInputs) {
  auto backend = MakeOneDnnBackend();
  if (!backend->Supports(Precision::kInt8)) GTEST_SKIP() << "no int8 ISA here";
  ModelOptions model_options;
  model_options.softmax = false;
  const Graph graph = BuildJetCnn(model_options);
  constexpr int kBatch = 8;
  // Inputs in [0, 4): four times the range of the seeded default calibration.
  auto input = Seeded(kBatch * NumElements(graph.input_shape()), 9);
  for (float& v : input) v *= 4.0f;
  CompileOptions options;
  options.max_batch = kBatch;
  const auto fp32 = RunOnce(*backend, graph, options, input, kBatch);
  options.precision = Precision::kInt8;
  const double seeded = RelativeError(RunOnce(*backend, graph, options, input, kBatch), fp32);
  options.calibration = input;
  const double calibrated = RelativeError(RunOnce(*backend, graph, options, input, kBatch), fp32);
  EXPECT_LT(calibrated, seeded);
  EXPECT_LE(calibrated, 5e-2);
}

}  // namespace
}  // namespace sonic
