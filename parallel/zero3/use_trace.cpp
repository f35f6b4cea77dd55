#include "parallel/zero3/use_trace.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "parallel/zero3/stage_hooks.h"

namespace behemoth {

std::string stageName(int stage, int layers) {
  if (stage == 0) return "embed";
  if (stage == layers + 1) return "head";
  return "block " + std::to_string(stage - 1);
}

StageUses traceStageUses(const std::vector<at::Tensor>& outputs, const std::vector<at::Tensor>& params) {
  using torch::autograd::Node;
  std::unordered_map<const Node*, std::size_t> accumulator_of;
  for (std::size_t k = 0; k < params.size(); ++k) {
    accumulator_of[torch::autograd::impl::grad_accumulator(params[k]).get()] = k;
  }
  StageUses result;
  std::vector<bool> used(params.size(), false);
  std::unordered_set<const Node*> boundaries;  // earlier stages' outputs: their graph is theirs
  for (const at::Tensor& output : outputs) {
    std::vector<std::size_t> stage_uses;
    std::unordered_set<const Node*> seen;
    std::vector<Node*> stack;
    if (Node* root = output.grad_fn().get()) stack.push_back(root);
    while (!stack.empty()) {
      Node* node = stack.back();
      stack.pop_back();
      if (!seen.insert(node).second || boundaries.count(node) > 0) continue;
      if (const auto found = accumulator_of.find(node); found != accumulator_of.end()) {
        stage_uses.push_back(found->second);
        continue;
      }
      // Pushed in reverse so the walk visits a node's inputs in their edge order.
      const auto& edges = node->next_edges();
      for (auto edge = edges.rbegin(); edge != edges.rend(); ++edge) {
        if (edge->function) stack.push_back(edge->function.get());
      }
    }
    // Inside a stage, registration order (the parameters' index) stands for forward order: the
    // graph is walked from the output backwards, and the planner lists tensors the same way.
    std::sort(stage_uses.begin(), stage_uses.end());
    for (const std::size_t k : stage_uses) {
      if (!used[k]) {
        used[k] = true;
        result.first_use.push_back(k);
      }
    }
    if (const Node* root = output.grad_fn().get()) boundaries.insert(root);
    result.uses.push_back(std::move(stage_uses));
  }
  for (std::size_t k = 0; k < params.size(); ++k) {
    if (!used[k]) throw std::logic_error("ZeRO-3 trace: parameter " + std::to_string(k) + " is used by no stage");
  }
  return result;
}

}  // namespace behemoth
