#pragma once

#include <vector>

#include "models/graph.h"

namespace sonic {

// The graph as the sequence of fused steps every optimising backend executes: a convolution or a
// dense layer absorbs the residual Add and the activation (ReLU or another) that follow it (when
// nothing else reads the intermediate values), which is what oneDNN post-ops, cuDNN's
// ConvolutionBiasActivation and the OpenCL kernels implement; a dense layer absorbs a residual
// only on a rank-1 input. Flatten becomes an alias of its input (same bytes in plain layout);
// every other op is a step. Pure function of the graph; the graph must have gone through
// InferShapes (and usually FoldBatchNorm).
struct FusedStep {
  const Node* node =
      nullptr;            // the primary node: Conv2D, Dense, pool, Softmax, Add, Relu, BatchNorm
  ValueId input = -1;     // the primary node's activation input (first operand for Add), as stored
  ValueId residual = -1;  // Conv2D/Dense: a value added to the result, or -1; Add: operand 2
  bool relu = false;      // Conv2D/Dense/Add only: ReLU applied last
  // Conv2D/Dense/Add only: another activation applied last (never together with `relu`).
  const ActivationAttrs* activation = nullptr;
  ValueId output = -1;  // the value this step produces (after the fused ops)
};

struct FusedPlan {
  std::vector<FusedStep> steps;
  // For each value, the value that holds its data: itself, or for a Flatten output the
  // flattened input (same bytes, other shape). Fused-away intermediates map to -1.
  std::vector<ValueId> storage;
};

FusedPlan PlanFusedSteps(const Graph& graph);

}  // namespace sonic
