#include "models/fusion.h"

#include "core/error.h"

namespace sonic {
namespace {

// The single node reading `value`, or nullptr when zero or several nodes (or the graph output)
// read it.
const Node* SoleConsumer(const Graph& graph, const std::vector<int>& consumers, ValueId value) {
  if (consumers[value] != 1 || value == graph.output) return nullptr;
  for (const Node& node : graph.nodes) {
    for (ValueId id : node.inputs) {
      if (id == value) return &node;
    }
  }
  return nullptr;
}

}  // namespace

FusedPlan PlanFusedSteps(const Graph& graph) {
  const std::vector<int> consumers = ConsumerCounts(graph);
  FusedPlan plan;
  plan.storage.assign(graph.values.size(), -1);
  plan.storage[graph.input] = graph.input;

  std::vector<bool> absorbed(graph.nodes.size(), false);
  auto index_of = [&](const Node* node) { return node - graph.nodes.data(); };

  for (const Node& node : graph.nodes) {
    if (absorbed[index_of(&node)]) continue;
    if (node.op == OpKind::kFlatten) {
      plan.storage[node.output] = plan.storage[node.inputs[0]];
      continue;
    }
    FusedStep step{.node = &node, .input = node.inputs[0], .output = node.output};
    const bool fusable = node.op == OpKind::kConv2D || node.op == OpKind::kDense;
    const bool takes_residual =
        node.op == OpKind::kConv2D ||
        (node.op == OpKind::kDense && graph.values[node.inputs[0]].shape.size() == 1);
    if (takes_residual) {
      const Node* next = SoleConsumer(graph, consumers, step.output);
      if (next != nullptr && next->op == OpKind::kAdd) {
        const ValueId other = next->inputs[0] == step.output ? next->inputs[1] : next->inputs[0];
        // The other operand must already exist when this step runs, and must differ from it.
        if (other != step.output && plan.storage[other] >= 0) {
          step.residual = plan.storage[other];
          step.output = next->output;
          absorbed[index_of(next)] = true;
        }
      }
    }
    if (node.op == OpKind::kAdd) step.residual = plan.storage[node.inputs[1]];
    if (fusable || node.op == OpKind::kAdd || node.op == OpKind::kBinary) {
      const Node* next = SoleConsumer(graph, consumers, step.output);
      if (next != nullptr && (next->op == OpKind::kRelu || next->op == OpKind::kActivation)) {
        step.relu = next->op == OpKind::kRelu;
        if (!step.relu) step.activation = &std::get<ActivationAttrs>(next->attrs);
        step.output = next->output;
        absorbed[index_of(next)] = true;
      }
    }
    if (plan.storage[step.input] < 0) {
      Throw(ErrorKind::kInternal, "fusion: node '{}' reads a value that was fused away", node.name);
    }
    step.input = plan.storage[step.input];
    plan.storage[step.output] = step.output;
    plan.steps.push_back(step);
  }
  return plan;
}

}  // namespace sonic
