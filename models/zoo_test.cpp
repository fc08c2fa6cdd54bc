#include "models/zoo.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/fusion.h"

namespace sonic {
namespace {

TEST(Zoo, ResNet50HasThePublishedSize) {
  const Graph g = BuildResNet50();
  EXPECT_EQ(g.input_shape(), (Shape{3, 224, 224}));
  EXPECT_EQ(g.output_shape(), (Shape{1000}));
  // 25,557,032 parameters (torchvision, counting batch-norm scale and shift), 4.089 GMAC.
  EXPECT_EQ(g.ParameterCount(), 25557032);
  EXPECT_NEAR(static_cast<double>(g.MacsPerSample()), 4.089e9, 0.005e9);
}

TEST(Zoo, ResNet18HasThePublishedSize) {
  const Graph g = BuildResNet18();
  EXPECT_EQ(g.ParameterCount(), 11689512);
  EXPECT_NEAR(static_cast<double>(g.MacsPerSample()), 1.814e9, 0.005e9);
}

TEST(Zoo, TaggerHeadHasTwoClasses) {
  ModelOptions options;
  options.num_classes = 2;
  EXPECT_EQ(BuildResNet50(options).output_shape(), (Shape{2}));
  EXPECT_EQ(BuildJetCnn().output_shape(), (Shape{2}));
  EXPECT_EQ(BuildJetCnn().input_shape(), (Shape{1, 40, 40}));
}

TEST(Zoo, WeightsAreSeeded) {
  ModelOptions a, b;
  b.seed = 2;
  const auto conv = [](const Graph& g) { return std::get<Conv2DAttrs>(g.nodes[0].attrs).weight; };
  EXPECT_EQ(conv(BuildJetCnn(a)), conv(BuildJetCnn(a)));
  EXPECT_NE(conv(BuildJetCnn(a)), conv(BuildJetCnn(b)));
}

TEST(Zoo, ResNet50FoldsAndFusesToConvolutionSteps) {
  Graph g = BuildResNet50();
  FoldBatchNorm(g);
  InferShapes(g);
  for (const Node& node : g.nodes) EXPECT_NE(node.op, OpKind::kBatchNorm) << node.name;
  const FusedPlan plan = PlanFusedSteps(g);
  int convs = 0, residual = 0;
  for (const FusedStep& step : plan.steps) {
    EXPECT_NE(step.node->op, OpKind::kRelu) << step.node->name << " should be fused";
    EXPECT_NE(step.node->op, OpKind::kAdd) << step.node->name << " should be fused";
    if (step.node->op == OpKind::kConv2D) ++convs;
    if (step.residual >= 0) ++residual;
  }
  EXPECT_EQ(convs, 53);
  EXPECT_EQ(residual, 16);  // one per bottleneck block
}

TEST(Zoo, UnknownModelListsTheKnownOnes) {
  try {
    BuildModel("resnet51");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(error.what()).find("resnet50"), std::string::npos);
  }
}

}  // namespace
}  // namespace sonic
