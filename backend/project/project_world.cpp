// Checks that need the world size: the resolved plan, batch divisibility, model shapes per axis,
// and the features this build cannot run yet.
#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "backend/project/project.h"
#include "backend/project/zero3_checks.h"
#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/pipeline/stage_layers.h"
#include "parallel/tensor_grid/tensor_grid.h"

namespace behemoth {
namespace {

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument(message); }

std::string str(int value) { return std::to_string(value); }

void checkBatch(const Project& project) {
  const int global = project.data.global_batch_size;
  const int dp = project.plan.dp;
  if (global % dp != 0) {
    reject("data.global_batch_size: " + str(global) + " is not divisible by dp (" + str(dp) + ")");
  }
  const int micro = project.train.micro_batch_size;
  if (micro > 0 && global % (dp * micro) != 0) {
    reject("data.global_batch_size: " + str(global) + " is not divisible by dp (" + str(dp) +
           ") x train.micro_batch_size (" + str(micro) + ")");
  }
}

// The sp axis (docs/long-context.md): Ulysses splits each tp rank's heads over sp, ring cuts the
// sequence into 2 sp zigzag chunks; Megatron-SP then splits an sp shard over tp. (sp composes with
// every other axis and ZeRO stage: its ranks are data-parallel replicas for the weights.)
void checkSequenceParallel(const Project& project) {
  const ModelConfig& model = project.model;
  const Plan& plan = project.plan;
  const int sp = plan.sp;
  const std::string mode = "parallel.sp_mode " + plan.sp_mode;
  if (plan.sp_mode == "ulysses") {
    // A 2D / 2.5D / 3D grid gives each rank one of its q head blocks; 1D one of tp.
    const int head_blocks = plan.tp_mode != "1d" && plan.tp > 1 ? TensorGrid::fromPlan(plan.tp, plan.tp_mode, plan.tp_depth).q : plan.tp;
    const int local_heads = model.n_head / head_blocks;
    if (local_heads % sp != 0) {
      reject("model.n_head: " + str(model.n_head) + " heads (" + str(local_heads) + " per tp rank) cannot be split over parallel.sp (" +
             str(sp) + ") by " + mode);
    }
    const int kv_heads = model.kvHeads();
    const int local_kv = kv_heads >= head_blocks ? kv_heads / head_blocks : 1;
    if (local_kv % sp != 0) {
      reject("model.n_kv_head: " + str(kv_heads) + " key/value heads (" + str(local_kv) +
             " per tp rank) cannot be split over parallel.sp (" + str(sp) + ") by " + mode + "; use parallel.sp_mode ring");
    }
  } else if (model.seq_len % (2 * sp) != 0) {
    reject("model.seq_len: " + str(model.seq_len) + " cannot be cut into " + str(2 * sp) +
           " equal zigzag chunks (two per sp rank) for " + mode);
  }
  const int shard = model.seq_len / sp;
  if (plan.sequence_parallel && plan.tp > 1 && shard % plan.tp != 0) {
    reject("model.seq_len: each sp rank's " + str(shard) + " tokens are not divisible by parallel.tp (" + str(plan.tp) +
           ") as parallel.sequence_parallel shards them over tp");
  }
}

// 2D / 2.5D / 3D tensor parallelism (docs/tensor-parallel-grid.md): the grid's shape, the model
// dimensions its blocks split, the batch chunks, and the axes it does not compose with yet (a
// pipeline stage runs its blocks on the grid like the whole model does).
void checkTensorGrid(const Project& project) {
  const ModelConfig& model = project.model;
  const Plan& plan = project.plan;
  const TensorGrid grid = TensorGrid::fromPlan(plan.tp, plan.tp_mode, plan.tp_depth);
  const std::string mode = "parallel.tp_mode " + plan.tp_mode;
  const int q = grid.q;
  if (model.n_head % q != 0) {
    reject("model.n_head: " + str(model.n_head) + " heads cannot be split into the " + str(q) + " head blocks of " + mode);
  }
  if (model.kvHeads() % q != 0) {
    reject("model.n_kv_head: " + str(model.kvHeads()) + " key/value heads cannot be split into the " + str(q) +
           " head blocks of " + mode);
  }
  const int inputs = grid.inputFeatureSplit();
  if (model.d_model % inputs != 0) {
    reject("model.d_model: " + str(model.d_model) + " is not divisible by " + str(inputs) + ", the feature blocks of " + mode);
  }
  if (model.ffnHidden() % inputs != 0) {
    reject("model.d_ff: the feed-forward width " + str(model.ffnHidden()) + " is not divisible by " + str(inputs) +
           ", the feature blocks of " + mode);
  }
  const int micro = project.microBatchSize();
  if (micro % grid.sampleChunks() != 0) {
    reject(std::string(project.train.micro_batch_size > 0 ? "train.micro_batch_size" : "data.global_batch_size") +
           ": each rank's micro-batch of " + str(micro) + " sequences cannot be split into the " + str(grid.sampleChunks()) +
           " batch chunks of " + mode);
  }
  if (plan.sequence_parallel) reject("parallel.sequence_parallel: Megatron sequence parallelism needs parallel.tp_mode 1d, not " + plan.tp_mode);
  if (plan.zero == 3) reject("parallel.zero: ZeRO-3 does not run with " + mode + " yet (ZeRO 1 and 2 do)");
}

// 1D (Megatron) tensor parallelism: heads, kv heads and the MLP split over tp.
void checkOneDimensionalTensorParallel(const Project& project) {
  const ModelConfig& model = project.model;
  const Plan& plan = project.plan;
  const int tp = plan.tp;
  if (model.n_head % tp != 0) {
    reject("model.n_head: " + str(model.n_head) + " heads cannot be split over parallel.tp (" + str(tp) + ")");
  }
  const int kv_heads = model.kvHeads();
  if (kv_heads % tp != 0 && tp % kv_heads != 0) {
    reject("model.n_kv_head: " + str(kv_heads) + " key/value heads cannot be split over or replicated across parallel.tp (" +
           str(tp) + ")");
  }
  if (model.ffnHidden() % tp != 0) {
    reject("model.d_ff: the feed-forward width " + str(model.ffnHidden()) + " is not divisible by parallel.tp (" + str(tp) + ")");
  }
  // A vocabulary not divisible by tp is padded with rows that never change the loss.
  if (plan.sequence_parallel && tp > 1 && model.seq_len % tp != 0) {
    reject("model.seq_len: " + str(model.seq_len) + " is not divisible by parallel.tp (" + str(tp) +
           ") as parallel.sequence_parallel shards the sequence over tp");
  }
}

// Shapes every axis has to split; written for all axes now so plans fail before launch later too.
void checkModelAgainstAxes(const Project& project) {
  const ModelConfig& model = project.model;
  const Plan& plan = project.plan;
  // At tp 1 every mode is the same single rank: nothing to split.
  if (plan.tp_mode != "1d" && plan.tp > 1) {
    checkTensorGrid(project);
  } else {
    checkOneDimensionalTensorParallel(project);
  }
  if (model.seq_len % (plan.sp) != 0) {
    reject("model.seq_len: " + str(model.seq_len) + " is not divisible by parallel.sp (" + str(plan.sp) + ")");
  }
  if (plan.sp > 1) checkSequenceParallel(project);
  if (model.n_layer < plan.pp) {
    reject("model.n_layer: " + str(model.n_layer) + " layers cannot fill parallel.pp (" + str(plan.pp) +
           ") pipeline stages");
  }
  if (model.vocab_size < 2) reject("model.vocab_size: must be at least 2, got " + str(model.vocab_size));
  if (model.seq_len < 2) reject("model.seq_len: must be at least 2 (inputs and shifted targets), got " + str(model.seq_len));
}

// The pipeline's split and schedule: blocks per stage, micro-batches the schedule needs.
void checkPipeline(const Project& project) {
  const Plan& plan = project.plan;
  if (plan.pp == 1) {
    if (!plan.pp_layers.empty() && plan.pp_layers.size() != 1) {
      reject("parallel.pp_layers: " + str(static_cast<int>(plan.pp_layers.size())) + " entries for 1 stage (parallel.pp is 1)");
    }
    if (plan.pp_virtual != 1) reject("parallel.pp_virtual: model chunks per rank need parallel.pp > 1");
  }
  virtualStageBlocks(project.model.n_layer, plan.pp, plan.pp_virtual, plan.pp_layers);
  PipelineShape shape;
  shape.stages = plan.pp;
  shape.virtual_stages = plan.pp_virtual;
  shape.micro_batches = project.microBatches();
  const PipelineSchedule schedule = pipelineScheduleFromName(plan.pp_schedule);
  // With stages, built rather than only checked: a schedule this build has no builder for yet is
  // refused here, before launch (and the planner's runnable check sees it), not inside a worker.
  if (plan.pp > 1) {
    buildPipelineSchedule(schedule, shape);
  } else {
    checkPipelineShape(schedule, shape);
  }
}

void checkCorpus(const Project& project) {
  const std::string& corpus = project.data.corpus;
  if (corpus == "builtin") return;
  std::error_code error;
  const bool exists = std::filesystem::exists(corpus, error);
  if (error && error != std::errc::no_such_file_or_directory) {
    reject("data.corpus: cannot access " + corpus.substr(0, 200) + ": " + error.message());
  }
  if (!exists) reject("data.corpus: no such file or folder: " + corpus);
}

}  // namespace

void checkProjectScale(const Project& project) {
  // Each size is bounded alone (ModelConfig::validate); their products can still leave the range
  // where byte counts are exact. An exabyte per rank is beyond every machine: refuse it by name.
  const ModelConfig& m = project.model;
  const double d = m.d_model;
  const double parameters = double(m.n_layer) * (4.0 * d * d + 3.0 * d * m.ffnHidden()) + 2.0 * double(m.vocab_size) * d;
  constexpr double kExabyte = 1e18;
  if (parameters * 20.0 > kExabyte) {
    reject("model: about " + std::to_string(static_cast<long long>(parameters / 1e12)) +
           "T parameters would need more than an exabyte of model states; these sizes are beyond any machine");
  }
  const double local_batch = double(project.data.global_batch_size) / std::max(1, project.plan.dp);
  const double micro = project.train.micro_batch_size > 0 ? project.train.micro_batch_size : local_batch;
  const double tokens = micro * m.seq_len;
  const double activations = tokens * m.n_layer * (40.0 * d + 6.0 * m.n_head * double(m.seq_len));
  if (activations > kExabyte) {
    reject("model.seq_len: " + str(m.seq_len) + " tokens x " + std::to_string(static_cast<long long>(micro)) +
           " sequences per micro-batch would need more than an exabyte of activations per rank; lower model.seq_len or "
           "train.micro_batch_size");
  }
}

void rejectUnavailableFeatures(const Project& project) {
  const Plan& plan = project.plan;
  if (plan.ep > 1) reject("parallel.ep: expert parallelism is not available in this build yet");
  if (plan.zero == 3 && plan.pp > 1) {
    reject("parallel.zero: ZeRO stage 3 with pipeline parallelism (parallel.pp " + std::to_string(plan.pp) +
           ") is not supported: each stage would gather its chunks once per micro-batch; use zero 1 or 2 with pp");
  }
  // dp == 1 with zero 1|2 is accepted: one shard holding everything, the same math as zero 0.
  if (plan.offload_optimizer && plan.zero == 0) {
    reject("parallel.offload_optimizer: offloading the optimizer needs parallel.zero 1 or 2");
  }
  if (plan.offload_optimizer && project.optimizer.name != "adamw") {
    reject("parallel.offload_optimizer: optimizer '" + project.optimizer.name +
           "' cannot be offloaded (only adamw has a CPU implementation)");
  }
  if (plan.zero > 0 && project.optimizer.name != "adamw") {
    reject("optimizer.name: ZeRO runs adamw only, got '" + project.optimizer.name + "'");
  }
  if (project.precision == Precision::fp16 && plan.zero == 0) {
    reject("precision: fp16 needs parallel.zero 1, 2 or 3 (fp32 master weights and dynamic loss scaling live in the ZeRO "
           "optimizer); use bf16 or set parallel.zero");
  }
#ifndef BEHEMOTH_WITH_CUDA
  if (project.devices.kind == "cuda") {
    reject("devices.kind: cuda is not available: this build of Behemoth was compiled without CUDA (use cpu)");
  }
#endif
}

void validateForWorld(Project& project, int world_size) {
  project.plan.resolve(world_size);
  checkBatch(project);
  checkModelAgainstAxes(project);
  checkPipeline(project);
  checkProjectScale(project);
  checkCorpus(project);
  rejectUnavailableFeatures(project);
  checkZeroThree(project);
}

}  // namespace behemoth
