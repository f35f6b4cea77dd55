// What a model calls around each of its stages so ZeRO-3 can gather a stage's parameters just
// before it runs and release them after (backend/model/language_model.cpp calls these).
//
// Stages are numbered in forward order: 0 is the embedding, 1 + i is transformer block i, and
// n_layer + 1 is the final norm, head and loss.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace behemoth {

class StageHooks {
 public:
  virtual ~StageHooks() = default;
  // Before stage `stage` computes (also when activation recomputation runs it again in backward).
  virtual void beforeStage(int stage) = 0;
  // After it computed `output`; returns the tensor the model continues with (the hooks may route it
  // through an autograd node whose backward runs just before the stage's backward).
  virtual at::Tensor afterStage(int stage, const at::Tensor& output) = 0;
};

// "embed", "block 3", "head" for a model of `layers` blocks.
std::string stageName(int stage, int layers);

}  // namespace behemoth
