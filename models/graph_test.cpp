#include "models/graph.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/fusion.h"

namespace sonic {
namespace {

Graph ConvBnReluGraph() {
  Graph g;
  g.name = "tiny";
  g.input = g.AddValue("x", {2, 5, 5});
  Conv2DAttrs conv;
  conv.out_channels = 3;
  conv.kernel = {3, 3};
  conv.pads = {1, 1, 1, 1};
  conv.weight.assign(std::size_t{3} * 2 * 3 * 3, 0.5f);
  ValueId v = g.AddNode("conv", OpKind::kConv2D, {g.input}, conv);
  BatchNormAttrs bn;
  bn.scale = {1.0f, 2.0f, 0.5f};
  bn.shift = {0.1f, -0.2f, 0.3f};
  bn.mean = {0.5f, 1.0f, -1.0f};
  bn.variance = {1.0f, 4.0f, 0.25f};
  bn.epsilon = 0.0f;
  v = g.AddNode("bn", OpKind::kBatchNorm, {v}, bn);
  v = g.AddNode("relu", OpKind::kRelu, {v});
  g.output = v;
  InferShapes(g);
  return g;
}

TEST(InferShapes, ConvolutionWindowArithmetic) {
  Graph g;
  g.input = g.AddValue("x", {3, 224, 224});
  Conv2DAttrs conv;
  conv.out_channels = 64;
  conv.kernel = {7, 7};
  conv.stride = {2, 2};
  conv.pads = {3, 3, 3, 3};
  conv.weight.assign(std::size_t{64} * 3 * 7 * 7, 0.0f);
  ValueId v = g.AddNode("conv1", OpKind::kConv2D, {g.input}, conv);
  PoolAttrs pool;
  pool.kernel = {3, 3};
  pool.stride = {2, 2};
  pool.pads = {1, 1, 1, 1};
  g.output = g.AddNode("maxpool", OpKind::kMaxPool, {v}, pool);
  InferShapes(g);
  EXPECT_EQ(g.values[v].shape, (Shape{64, 112, 112}));
  EXPECT_EQ(g.output_shape(), (Shape{64, 56, 56}));
  // 64 * 3 * 49 MACs per output pixel.
  EXPECT_EQ(g.MacsPerSample(), 64LL * 3 * 49 * 112 * 112);
}

TEST(InferShapes, ErrorNamesTheNodeAndWhatWasExpected) {
  Graph g = ConvBnReluGraph();
  std::get<Conv2DAttrs>(g.nodes[0].attrs).weight.pop_back();
  try {
    InferShapes(g);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'conv'"), std::string::npos) << message;
    EXPECT_NE(message.find("Conv2D"), std::string::npos) << message;
    EXPECT_NE(message.find("expected 54"), std::string::npos) << message;
  }
}

// Asserts that `call` throws Error(kInvalidArgument) whose message holds every fragment.
template <typename Call>
void ExpectInvalid(Call call, const std::vector<std::string>& fragments) {
  try {
    call();
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument) << message;
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' in " << message;
    }
  }
}

// A 1x1 convolution with one output channel over `in`, padded by `pad` at the bottom and right.
Graph PaddedConv(const Shape& in, std::int64_t pad) {
  Graph g;
  g.name = "padded";
  g.input = g.AddValue("x", in);
  Conv2DAttrs conv;
  conv.out_channels = 1;
  conv.pads = {0, 0, pad, pad};
  conv.weight.assign(in[0], 1.0f);
  g.output = g.AddNode("conv", OpKind::kConv2D, {g.input}, conv);
  return g;
}

TEST(InferShapes, WindowArithmeticOverflowNamesTheNode) {
  Graph g = PaddedConv({1, 4, 4}, std::numeric_limits<std::int64_t>::max());
  ExpectInvalid([&] { InferShapes(g); }, {"node 'conv' (Conv2D) window", "64 bits"});
}

TEST(InferShapes, OutputElementCountOverflowNamesTheNode) {
  // Each side fits, the plane (2^40 x 2^40) does not.
  Graph g = PaddedConv({1, 1, 1}, std::int64_t{1} << 40);
  ExpectInvalid([&] { InferShapes(g); }, {"node 'conv' (Conv2D) output", "64 bits"});
}

TEST(InferShapes, InputElementCountOverflowNamesTheInput) {
  Graph g = PaddedConv({1, std::int64_t{1} << 40, std::int64_t{1} << 30}, 0);
  ExpectInvalid([&] { InferShapes(g); }, {"graph 'padded' input 'x'", "64 bits"});
}

TEST(Graph, MacsPerSampleOverflowIsAnError) {
  // 4 weights x 2^31 x 2^31 output pixels = 2^64 MACs; the output itself (2^62 values) fits.
  Graph g = PaddedConv({4, 1, 1}, (std::int64_t{1} << 31) - 1);
  InferShapes(g);
  ExpectInvalid([&] { g.MacsPerSample(); }, {"graph 'padded' multiply-accumulates", "64 bits"});
}

TEST(InferShapes, RejectsMismatchedAdd) {
  Graph g;
  g.input = g.AddValue("x", {4});
  DenseAttrs dense;
  dense.out_features = 3;
  dense.weight.assign(12, 1.0f);
  ValueId d = g.AddNode("fc", OpKind::kDense, {g.input}, dense);
  g.output = g.AddNode("sum", OpKind::kAdd, {d, g.input});
  EXPECT_THROW(InferShapes(g), Error);
}

TEST(FoldBatchNorm, FoldedConvolutionEqualsConvolutionThenBatchNorm) {
  Graph g = ConvBnReluGraph();
  Graph folded = g;
  FoldBatchNorm(folded);
  ASSERT_EQ(folded.nodes.size(), 2u);
  EXPECT_EQ(folded.nodes[0].op, OpKind::kConv2D);
  EXPECT_EQ(folded.nodes[1].op, OpKind::kRelu);
  EXPECT_EQ(folded.nodes[1].inputs[0], folded.nodes[0].output);
  // Channel c: w' = w * scale / sqrt(var), b' = (0 - mean) * scale / sqrt(var) + shift.
  const auto& conv = std::get<Conv2DAttrs>(folded.nodes[0].attrs);
  EXPECT_FLOAT_EQ(conv.weight[0], 0.5f * 1.0f / 1.0f);
  EXPECT_FLOAT_EQ(conv.weight[18], 0.5f * 2.0f / 2.0f);
  EXPECT_FLOAT_EQ(conv.weight[36], 0.5f * 0.5f / 0.5f);
  EXPECT_FLOAT_EQ(conv.bias[0], -0.5f * 1.0f + 0.1f);
  EXPECT_FLOAT_EQ(conv.bias[1], -1.0f * 1.0f - 0.2f);
  EXPECT_FLOAT_EQ(conv.bias[2], 1.0f * 1.0f + 0.3f);
}

TEST(FusedPlan, ResidualAddAndReluJoinTheConvolution) {
  Graph g;
  g.input = g.AddValue("x", {4, 3, 3});
  Conv2DAttrs conv;
  conv.out_channels = 4;
  conv.weight.assign(16, 0.1f);
  ValueId c = g.AddNode("conv", OpKind::kConv2D, {g.input}, conv);
  ValueId a = g.AddNode("add", OpKind::kAdd, {c, g.input});
  ValueId r = g.AddNode("relu", OpKind::kRelu, {a});
  ValueId f = g.AddNode("flatten", OpKind::kFlatten, {r});
  g.output = g.AddNode("softmax", OpKind::kSoftmax, {f});
  InferShapes(g);
  const FusedPlan plan = PlanFusedSteps(g);
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].node->name, "conv");
  EXPECT_EQ(plan.steps[0].residual, g.input);
  EXPECT_TRUE(plan.steps[0].relu);
  EXPECT_EQ(plan.steps[0].output, r);
  EXPECT_EQ(plan.steps[1].node->name, "softmax");
  EXPECT_EQ(plan.steps[1].input, r);  // Flatten aliases its input's storage
  EXPECT_EQ(plan.storage[f], r);
}

TEST(FusedPlan, ReluWithTwoReadersIsNotAbsorbed) {
  Graph g;
  g.input = g.AddValue("x", {2, 3, 3});
  Conv2DAttrs conv;
  conv.out_channels = 2;
  conv.weight.assign(4, 0.1f);
  ValueId c = g.AddNode("conv", OpKind::kConv2D, {g.input}, conv);
  ValueId r = g.AddNode("relu", OpKind::kRelu, {c});
  g.output = g.AddNode("add", OpKind::kAdd, {c, r});  // conv output read twice
  InferShapes(g);
  const FusedPlan plan = PlanFusedSteps(g);
  ASSERT_EQ(plan.steps.size(), 3u);
  EXPECT_FALSE(plan.steps[0].relu);
  EXPECT_EQ(plan.steps[2].residual, r);
}

}  // namespace
}  // namespace sonic
