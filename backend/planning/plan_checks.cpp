#include "backend/planning/plan_checks.h"

#include <stdexcept>
#include <string>

#include "parallel/tensor_grid/tensor_grid.h"

namespace behemoth {

void checkSequenceSplit(const Project& project) {
  const auto str = [](int value) { return std::to_string(value); };
  const Plan& plan = project.plan;
  if (plan.sp == 1) return;
  const ModelConfig& model = project.model;
  // A 2D / 2.5D / 3D grid gives each rank one of its q head blocks, 1D one of tp.
  const bool grid = plan.tp > 1 && plan.tp_mode != "1d";
  const int head_blocks = grid ? TensorGrid::fromPlan(plan.tp, plan.tp_mode, plan.tp_depth).q : plan.tp;
  const int heads_split = head_blocks * plan.sp;
  const std::string over = (grid ? "the grid side x parallel.sp (" : "parallel.tp x parallel.sp (") + str(head_blocks) +
                           " x " + str(plan.sp) + ")";
  if (plan.sp_mode == "ulysses") {
    // The all-to-all hands each rank whole query and key/value heads.
    if (model.n_head % heads_split != 0) {
      throw std::invalid_argument("model.n_head: " + str(model.n_head) + " heads cannot be split over " + over +
                                  " for Ulysses (parallel.sp_mode)");
    }
    if (model.kvHeads() % heads_split != 0) {
      throw std::invalid_argument("model.n_kv_head: " + str(model.kvHeads()) + " key/value heads cannot be split over " +
                                  over + " for Ulysses (parallel.sp_mode)");
    }
    return;
  }
  // Ring: two zigzag chunks per sp rank, each split again over tp under Megatron-SP.
  const bool megatron_sp = plan.sequence_parallel && plan.tp > 1;
  const int chunks = 2 * plan.sp * (megatron_sp ? plan.tp : 1);
  if (model.seq_len % chunks != 0) {
    throw std::invalid_argument("model.seq_len: " + str(model.seq_len) + " is not divisible by 2 x parallel.sp" +
                                (megatron_sp ? " x parallel.tp" : "") + " (" + str(chunks) +
                                "): ring attention (parallel.sp_mode) gives each rank two zigzag chunks");
  }
}

namespace {

std::string str(int value) { return std::to_string(value); }

// Megatron 1D: heads, the MLP and the vocabulary split over tp.
void checkOneDimensionalShapes(const Project& project) {
  const ModelConfig& model = project.model;
  const int tp = project.plan.tp;
  if (model.n_head % tp != 0) throw std::invalid_argument("model.n_head: " + str(model.n_head) + " is not divisible by parallel.tp (" + str(tp) + ")");
  if (model.ffnHidden() % tp != 0) {
    throw std::invalid_argument("model.d_ff: " + str(model.ffnHidden()) + " is not divisible by parallel.tp (" + str(tp) + ")");
  }
  if (model.vocab_size % tp != 0) {
    throw std::invalid_argument("model.vocab_size: " + str(model.vocab_size) + " is not divisible by parallel.tp (" + str(tp) + ")");
  }
}

// 2D / 2.5D / 3D: the grid's shape; heads over its side q; d_model and d_ff over the input-feature
// blocks (q, or q^2 in 3D). The vocabulary is padded; the batch chunks are the engine's check.
void checkGridShapes(const Project& project) {
  const ModelConfig& model = project.model;
  const TensorGrid grid = TensorGrid::fromPlan(project.plan.tp, project.plan.tp_mode, project.plan.tp_depth);
  const std::string mode = " (parallel.tp_mode " + project.plan.tp_mode + ")";
  if (model.n_head % grid.q != 0) {
    throw std::invalid_argument("model.n_head: " + str(model.n_head) + " is not divisible by the grid side " + str(grid.q) + mode);
  }
  if (model.d_model % grid.inputFeatureSplit() != 0) {
    throw std::invalid_argument("model.d_model: " + str(model.d_model) + " is not divisible by " + str(grid.inputFeatureSplit()) + mode);
  }
  if (model.ffnHidden() % grid.inputFeatureSplit() != 0) {
    throw std::invalid_argument("model.d_ff: " + str(model.ffnHidden()) + " is not divisible by " + str(grid.inputFeatureSplit()) + mode);
  }
}

}  // namespace

void checkPlanShapes(const Project& project) {
  const int dp = project.plan.dp;
  const int global = project.data.global_batch_size;
  if (global % dp != 0) {
    throw std::invalid_argument("data.global_batch_size: " + str(global) + " is not divisible by dp (" + str(dp) + ")");
  }
  const int micro = project.train.micro_batch_size;
  if (micro > 0 && (global / dp) % micro != 0) {
    throw std::invalid_argument("train.micro_batch_size: " + str(micro) + " does not divide the local batch " + str(global / dp));
  }
  const ModelConfig& model = project.model;
  const int tp = project.plan.tp;
  if (tp > 1 && project.plan.tp_mode != "1d") {
    checkGridShapes(project);
  } else {
    checkOneDimensionalShapes(project);
  }
  if (model.seq_len % project.plan.sp != 0) {
    throw std::invalid_argument("model.seq_len: " + str(model.seq_len) + " is not divisible by parallel.sp (" + str(project.plan.sp) + ")");
  }
  checkSequenceSplit(project);
  if (model.n_layer < project.plan.pp) {
    throw std::invalid_argument("model.n_layer: " + str(model.n_layer) + " layers cannot fill parallel.pp (" +
                                str(project.plan.pp) + ") pipeline stages");
  }
  checkProjectScale(project);
}

}  // namespace behemoth
