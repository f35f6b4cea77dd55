#include "backend/planning/plan_inputs.h"

#include <stdexcept>

#include "parallel/plan_estimate.h"

namespace behemoth {

ModelDescription describeModel(const ModelConfig& c) {
  ModelDescription m;
  const bool gpt = c.arch == Arch::gpt;
  m.family = gpt ? ModelFamily::gpt : ModelFamily::llama;
  m.layers = c.n_layer;
  m.d_model = c.d_model;
  m.heads = c.n_head;
  m.kv_heads = c.kvHeads();
  m.ffn_hidden = c.ffnHidden();
  m.vocab = c.vocab_size;
  m.seq_len = c.seq_len;
  m.tied_embeddings = c.tie_embeddings;
  m.learned_positions = gpt;
  m.gated_mlp = !gpt;
  m.biases = gpt;
  m.norm_bias = gpt;
  m.dropout = c.dropout > 0.0;
  return m;
}

NumericFormat numericFormatOf(Precision precision) {
  switch (precision) {
    case Precision::fp32: return NumericFormat::fp32;
    case Precision::bf16: return NumericFormat::bf16;
    case Precision::fp16: return NumericFormat::fp16;
  }
  return NumericFormat::fp32;
}

TrainingLayout layoutFromProject(const Project& project) {
  if (project.plan.dp < 1) throw std::invalid_argument("parallel.dp: resolve the plan before planning");
  TrainingLayout base;
  base.precision = numericFormatOf(project.precision);  // before withPlan: chunk_mb counts working bytes
  TrainingLayout layout = withPlan(base, project.plan);
  layout.micro_batch_size = project.microBatchSize();
  layout.micro_batches = project.microBatches();
  layout.recompute = recomputeFromName(project.train.recompute);
  // Blockwise attention keeps a log-sum-exp per query and head for backward, never the s x s scores.
  layout.fused_attention = project.model.resolvedAttention() == AttentionKind::blockwise;
  // The fused kernels run on the CPU in fp32 and bf16 (fusedKernelsTake); elsewhere ATen's operators do.
  layout.fused_gated_mlp = project.model.kernels == KernelKind::fused && project.model.arch == Arch::llama &&
                           project.devices.kind == "cpu" && project.precision != Precision::fp16;
  // With pp, tp or sp the dp ranks still split the global batch; ep ranks do too in this model.
  return layout;
}

DeviceSpec deviceFromProject(const Project& project) {
  DeviceSpec device = deviceSpec(project.devices.kind, project.devices.name, numericFormatOf(project.precision));
  if (project.devices.memory_gb > 0) device.memory_bytes = project.devices.memory_gb * 1e9;
  if (project.devices.per_node > 0) device.per_node = project.devices.per_node;
  return device;
}

}  // namespace behemoth
