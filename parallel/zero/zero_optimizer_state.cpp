// ZeroOptimizer's checkpoint export and import (declared in zero_optimizer.h).
#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "parallel/zero/zero_optimizer.h"

namespace behemoth {
namespace {

std::vector<std::vector<std::int64_t>> shapesOf(const std::vector<at::Tensor>& params) {
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& p : params) shapes.push_back(p.sizes().vec());
  return shapes;
}

at::Tensor piecesTable(const std::vector<ShardSegment>& segments) {
  at::Tensor table = at::empty({static_cast<std::int64_t>(segments.size()), 4}, at::kLong);
  auto rows = table.accessor<std::int64_t, 2>();
  for (std::size_t i = 0; i < segments.size(); ++i) {
    rows[i][0] = static_cast<std::int64_t>(segments[i].param);
    rows[i][1] = segments[i].param_offset;
    rows[i][2] = segments[i].partition_offset;
    rows[i][3] = segments[i].numel;
  }
  return table;
}

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument("ZeRO optimizer state: " + message); }

}  // namespace

ShardedOptimizerState ZeroOptimizer::shardedState() {
  ShardedOptimizerState state;
  state.step = steps_;
  state.dp = group_.size();
  state.rank = group_.rank();
  state.shapes = shapesOf(params_);
  state.pieces = piecesTable(layout_.segmentsOf(group_.rank()));
  state.master = at::empty({layout_.partitionNumel()}, at::kFloat);
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    const ZeroBucket& spec = layout_.buckets()[b];
    state.master.narrow(0, spec.partition_offset, spec.shard_numel).copy_(masterShard(b));
  }
  state.exp_avg = exp_avg_.clone();
  state.exp_avg_sq = exp_avg_sq_.clone();
  return state;
}

FullOptimizerState ZeroOptimizer::fullState() {
  const ShardedOptimizerState mine = shardedState();
  if (group_.size() == 1) return fullStateFromShards({mine});
  // Partitions are the same size on every rank, so one all-gather per buffer brings them all.
  const at::Tensor masters = group_.allGather(mine.master, 0);
  const at::Tensor exp_avgs = group_.allGather(mine.exp_avg, 0);
  const at::Tensor exp_avg_sqs = group_.allGather(mine.exp_avg_sq, 0);
  const std::int64_t partition = layout_.partitionNumel();
  std::vector<ShardedOptimizerState> shards;
  for (int r = 0; r < group_.size(); ++r) {
    ShardedOptimizerState shard = mine;
    shard.rank = r;
    shard.pieces = piecesTable(layout_.segmentsOf(r));
    shard.master = masters.narrow(0, r * partition, partition);
    shard.exp_avg = exp_avgs.narrow(0, r * partition, partition);
    shard.exp_avg_sq = exp_avg_sqs.narrow(0, r * partition, partition);
    shards.push_back(std::move(shard));
  }
  return fullStateFromShards(shards);
}

void ZeroOptimizer::loadShardedState(const ShardedOptimizerState& state) {
  const std::string here = "dp " + std::to_string(group_.size()) + " rank " + std::to_string(group_.rank());
  const std::string there = "dp " + std::to_string(state.dp) + " rank " + std::to_string(state.rank);
  if (state.dp != group_.size() || state.rank != group_.rank()) {
    reject("a shard written at " + there + " cannot load at " + here +
           "; reassemble the full state (fullStateFromShards) to change the layout");
  }
  if (state.shapes != shapesOf(params_)) reject("the shard's parameter shapes differ from this model's");
  if (!at::equal(state.pieces.to(at::kLong), piecesTable(layout_.segmentsOf(group_.rank()))) ||
      state.master.numel() != layout_.partitionNumel() || state.exp_avg.numel() != layout_.partitionNumel() ||
      state.exp_avg_sq.numel() != layout_.partitionNumel()) {
    reject("the shard written at " + there + " was partitioned differently (another bucket size?); load the full state");
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    const ZeroBucket& spec = layout_.buckets()[b];
    masterShard(b).copy_(state.master.narrow(0, spec.partition_offset, spec.shard_numel));
  }
  exp_avg_.copy_(state.exp_avg);
  exp_avg_sq_.copy_(state.exp_avg_sq);
  steps_ = state.step;
  // Every rank's working parameters follow the masters, as after a step.
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    at::Tensor shard = workingShard(b);
    if (masters_.defined()) shard.copy_(masterShard(b));
    if (options_.round_working_to) shard.copy_(shard.to(*options_.round_working_to));
    if (group_.size() > 1) bucketParameters(b).copy_(group_.allGather(shard, 0));
  }
}

void ZeroOptimizer::loadFullState(const FullOptimizerState& state) {
  if (state.parameters.size() != params_.size()) {
    reject("the state has " + std::to_string(state.parameters.size()) + " parameters, this model " +
           std::to_string(params_.size()));
  }
  for (std::size_t k = 0; k < params_.size(); ++k) {
    const ParameterOptimizerState& p = state.parameters[k];
    for (const at::Tensor* t : {&p.master, &p.exp_avg, &p.exp_avg_sq}) {
      if (!t->defined() || t->sizes() != params_[k].sizes()) {
        reject("parameter " + std::to_string(k) + ": the state's shape differs from the model's " +
               c10::str(params_[k].sizes()));
      }
    }
  }
  for (const ShardSegment& piece : layout_.segmentsOf(group_.rank())) {
    const ParameterOptimizerState& p = state.parameters[piece.param];
    const std::size_t b = layout_.bucketOf(piece.param);
    const std::int64_t in_shard = piece.partition_offset - layout_.buckets()[b].partition_offset;
    const auto source = [&](const at::Tensor& t) { return t.reshape({-1}).narrow(0, piece.param_offset, piece.numel); };
    masterShard(b).narrow(0, in_shard, piece.numel).copy_(source(p.master));
    exp_avg_.narrow(0, piece.partition_offset, piece.numel).copy_(source(p.exp_avg));
    exp_avg_sq_.narrow(0, piece.partition_offset, piece.numel).copy_(source(p.exp_avg_sq));
  }
  steps_ = state.step;
  // The full masters are at hand, so every working parameter is set without a collective.
  for (std::size_t k = 0; k < params_.size(); ++k) {
    at::Tensor value = state.parameters[k].master;
    if (options_.round_working_to) value = value.to(*options_.round_working_to);
    params_[k].detach().copy_(value);
  }
}

std::vector<ZeroStateView> ZeroOptimizer::partitionViews() {
  std::vector<ZeroStateView> views;
  for (const ShardSegment& piece : layout_.segmentsOf(group_.rank())) {
    const std::size_t b = layout_.bucketOf(piece.param);
    const std::int64_t in_shard = piece.partition_offset - layout_.buckets()[b].partition_offset;
    ZeroStateView view;
    view.param = piece.param;
    view.param_offset = piece.param_offset;
    if (masters_.defined()) view.master = masterShard(b).narrow(0, in_shard, piece.numel);
    view.exp_avg = exp_avg_.narrow(0, piece.partition_offset, piece.numel);
    view.exp_avg_sq = exp_avg_sq_.narrow(0, piece.partition_offset, piece.numel);
    views.push_back(std::move(view));
  }
  return views;
}

ZeroCounters ZeroOptimizer::counters() const {
  ZeroCounters counters;
  counters.updates = steps_;
  if (scaler_) {
    counters.loss_scale = scaler_->scale();
    counters.clean_steps = scaler_->cleanSteps();
  }
  return counters;
}

void ZeroOptimizer::restoreCounters(const ZeroCounters& counters) {
  steps_ = counters.updates;
  if (scaler_) scaler_->restore(counters.loss_scale, counters.clean_steps);
}

}  // namespace behemoth
