#include "memory/memory_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "memory/activation_memory.h"
#include "memory/chunk_plan.h"

namespace behemoth {
namespace {

constexpr std::int64_t kGiB = std::int64_t{1} << 30;
constexpr std::int64_t kMiB = std::int64_t{1} << 20;

// What the tp grid divides a weight matrix by: t for 1D, 2D and 3D; q*q = t/depth for 2.5D (its
// depth layers hold copies of the q x q weight blocks).
std::int64_t matrixSplit(const TrainingLayout& layout) {
  if (layout.tensor_mode == TensorMode::two_and_half_d) return layout.tp / layout.tensor_depth;
  return layout.tp;
}

// The side q of a 2D / 2.5D grid or 3D cube (1 under 1D): the features' blocks. Norm weights,
// biases and GPT's position table hold one of q feature chunks (backend/parallelize/grid_parallelize.h).
std::int64_t gridSide(const TrainingLayout& layout) {
  // TrainingLayout::validate() has checked that tp is the grid's exact power.
  const auto root = [](std::int64_t value, int exponent) {
    return std::max<std::int64_t>(1, std::llround(std::pow(static_cast<double>(value), 1.0 / exponent)));
  };
  switch (layout.tensor_mode) {
    case TensorMode::one_d: return 1;
    case TensorMode::two_d: return root(layout.tp, 2);
    case TensorMode::two_and_half_d: return root(layout.tp / layout.tensor_depth, 2);
    case TensorMode::three_d: return root(layout.tp, 3);
  }
  return 1;
}

// One transformer block's parameters on one rank (its tp shard and its ep share of the experts).
std::int64_t layerShard(const ModelDescription& m, const TrainingLayout& layout) {
  const std::int64_t d = m.d_model;
  const std::int64_t hd = m.headDim();
  const std::int64_t f = m.ffn_hidden;
  const std::int64_t t = layout.tp;
  const std::int64_t experts_here = m.experts / layout.ep;
  const std::int64_t norms = 2 * (m.norm_bias ? 2 * d : d);
  const std::int64_t router = m.experts > 1 ? d * m.experts : 0;
  const std::int64_t expert_matrices = (m.gated_mlp ? 3 : 2) * d * f;
  const std::int64_t expert_in_bias = m.biases ? (m.gated_mlp ? 2 * f : f) : 0;
  const std::int64_t out_bias = m.biases ? d : 0;
  if (layout.tensor_mode != TensorMode::one_d) {
    const std::int64_t split = matrixSplit(layout);
    const std::int64_t matrices = 2 * d * d + 2 * d * m.kvWidth() + experts_here * expert_matrices;
    const std::int64_t small = (m.biases ? 2 * d + 2 * m.kvWidth() : 0) + experts_here * (expert_in_bias + out_bias);
    return matrices / split + (small + norms) / gridSide(layout) + router;
  }
  // Megatron 1D: Q/K/V and the MLP's first matmul(s) split by columns (with their biases), the
  // output projections by rows (their biases replicated). K/V heads fewer than t are replicated.
  const std::int64_t kv_heads_here = std::max<std::int64_t>(1, m.kv_heads / t);
  const std::int64_t q = d * d / t + (m.biases ? d / t : 0);
  const std::int64_t kv = 2 * (d * hd * kv_heads_here + (m.biases ? hd * kv_heads_here : 0));
  const std::int64_t o = d * d / t + out_bias;
  const std::int64_t mlp = experts_here * (expert_matrices / t + expert_in_bias / t + out_bias);
  return q + kv + o + mlp + norms + router;
}

std::int64_t embeddingShard(const ModelDescription& m, const TrainingLayout& layout) {
  if (layout.tensor_mode == TensorMode::one_d) {
    // Vocabulary-parallel: the vocabulary padded with zero rows to a multiple of tp.
    const std::int64_t rows = (std::int64_t{m.vocab} + layout.tp - 1) / layout.tp;
    return rows * m.d_model;
  }
  // The vocabulary padded to its blocks: q rows (2D, 2.5D) or q^2 (3D).
  const std::int64_t q = gridSide(layout);
  const std::int64_t multiple = layout.tensor_mode == TensorMode::three_d ? q * q : q;
  return (std::int64_t{m.vocab} + multiple - 1) / multiple * multiple * m.d_model / matrixSplit(layout);
}

std::int64_t ceilDiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Elements one of dp ranks holds of a flat buffer of `elements` (padded to whole chunks if chunked).
std::int64_t zeroShard(std::int64_t elements, int dp, std::int64_t chunk_elements) {
  if (chunk_elements <= 0) return ceilDiv(elements, dp);
  return ceilDiv(ceilDiv(elements, chunk_elements), dp) * chunk_elements;
}

MemoryTerm splitTerm(const char* name, std::int64_t bytes, double host_fraction) {
  const auto host = static_cast<std::int64_t>(std::llround(static_cast<double>(bytes) * host_fraction));
  return MemoryTerm{name, bytes - host, host};
}

// The model-state terms of a chunk plan, each part on its shard's tier, and what is gathered.
void addChunkTerms(const ChunkPlan& plan, const TrainingLayout& layout, StageMemory& stage) {
  MemoryTerm parameters{kTermParameters};
  MemoryTerm gradients{kTermGradients};
  MemoryTerm optimizer{kTermOptimizer};
  MemoryTerm masters{kTermMasterWeights};
  const auto on = [](MemoryTerm& term, Tier tier) -> std::int64_t& {
    return tier == Tier::device ? term.device_bytes : tier == Tier::host ? term.host_bytes : term.disk_bytes;
  };
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    const PlannedChunk& chunk = plan.chunks[c];
    const std::int64_t shard = chunk.capacity / layout.dp;
    on(parameters, chunk.param_tier) += plan.paramShardBytes(c);
    on(gradients, chunk.optim_tier) += shard * 4;
    on(optimizer, chunk.optim_tier) += shard * layout.optimizer_state_bytes;
    if (chunk.separate_master) on(masters, chunk.optim_tier) += shard * 4;
  }
  stage.terms.push_back(parameters);
  stage.terms.push_back(gradients);
  stage.terms.push_back(optimizer);
  stage.terms.push_back(masters);
  stage.terms.push_back(MemoryTerm{kTermMasterGrads});
  stage.terms.push_back(MemoryTerm{kTermGatheredChunks, plan.widest_stage_gathered_bytes});
  stage.terms.push_back(MemoryTerm{kTermPersistentChunk, plan.persistent_gathered_bytes});
}

int communicators(const TrainingLayout& layout) {
  int count = 0;
  for (int size : {layout.dp, layout.pp, layout.tp, layout.sp, layout.ep}) count += size > 1 ? 1 : 0;
  return count;
}

}  // namespace

MemoryAllowance defaultAllowance(const std::string& device_kind) {
  if (device_kind == "cuda") return MemoryAllowance{kGiB / 2, kGiB / 2, 0.05};
  // Measured: the peak RSS of CPU data-parallel runs minus their counted bytes (docs/planning.md).
  return MemoryAllowance{192 * kMiB, 0, 0.0};
}

std::int64_t StageMemory::deviceBytes() const {
  std::int64_t sum = 0;
  for (const auto& t : terms) sum += t.device_bytes;
  return sum;
}

std::int64_t StageMemory::hostBytes() const {
  std::int64_t sum = 0;
  for (const auto& t : terms) sum += t.host_bytes;
  return sum;
}

std::int64_t StageMemory::diskBytes() const {
  std::int64_t sum = 0;
  for (const auto& t : terms) sum += t.disk_bytes;
  return sum;
}

std::int64_t StageMemory::modelStateBytes() const {
  std::int64_t sum = 0;
  for (const char* name : {kTermParameters, kTermGradients, kTermOptimizer, kTermMasterWeights, kTermMasterGrads}) {
    const MemoryTerm& t = term(name);
    sum += t.device_bytes + t.host_bytes + t.disk_bytes;
  }
  // ZeRO-3: the engine counts the persistent chunk, gathered all run, with the model states.
  for (const auto& t : terms) {
    if (t.name == kTermPersistentChunk) sum += t.device_bytes;
  }
  return sum;
}

const MemoryTerm& StageMemory::term(const std::string& name) const {
  for (const auto& t : terms) {
    if (t.name == name) return t;
  }
  throw std::out_of_range("memory estimate has no term '" + name + "'");
}

int MemoryEstimate::peakStage() const {
  int best = 0;
  for (std::size_t k = 1; k < stages.size(); ++k) {
    if (stages[k].deviceBytes() > stages[best].deviceBytes()) best = static_cast<int>(k);
  }
  return best;
}

std::int64_t MemoryEstimate::peakHostBytes() const {
  std::int64_t best = 0;
  for (const auto& stage : stages) best = std::max(best, stage.hostBytes());
  return best;
}

std::int64_t MemoryEstimate::peakDiskBytes() const {
  std::int64_t best = 0;
  for (const auto& stage : stages) best = std::max(best, stage.diskBytes());
  return best;
}

std::vector<std::pair<int, int>> stageLayers(int layers, int stages) {
  std::vector<std::pair<int, int>> split;
  const int base = layers / stages;
  const int extra = layers % stages;
  int first = 0;
  for (int s = 0; s < stages; ++s) {
    const int count = base + (s >= stages - extra ? 1 : 0);
    split.emplace_back(first, count);
    first += count;
  }
  return split;
}

std::vector<std::int64_t> stageParameterCounts(const ModelDescription& m, const TrainingLayout& layout) {
  const ParameterCounts counts = parameterCounts(m);
  const std::int64_t per_layer = layerShard(m, layout);
  const std::int64_t embedding = embeddingShard(m, layout);
  std::vector<std::int64_t> result;
  const auto split = stageLayers(m.layers, layout.pp);
  for (int s = 0; s < layout.pp; ++s) {
    std::int64_t held = split[s].second * per_layer;
    if (s == 0) held += embedding + counts.position_embedding / gridSide(layout);
    if (s == layout.pp - 1) {
      held += counts.final_norm / gridSide(layout);
      // An untied head is its own matrix; a tied one needs a copy of the embedding on the last
      // stage when the embedding lives on another stage (its gradient is summed with stage 0's).
      if (!m.tied_embeddings || layout.pp > 1) held += embedding;
    }
    result.push_back(held);
  }
  return result;
}

double inFlightMicroBatches(const TrainingLayout& layout, int stage) {
  const int p = layout.pp;
  const double m = layout.micro_batches;
  if (p == 1) return 1.0;
  switch (layout.schedule) {
    case PipelineSchedule::gpipe: return m;
    case PipelineSchedule::one_f_one_b:
    case PipelineSchedule::zero_bubble: return std::min(m, double(p - stage));
    case PipelineSchedule::interleaved: {
      // Megatron's interleaved 1F1B: rank s runs 2 (p-s-1) + (v-1) p warm-up forwards of single
      // chunks, then holds one more before its first backward; each (micro-batch, chunk) is 1/v of
      // the rank's layers. On the first stage this is p (1 + (p-1)/(p v)), Megatron's figure; the
      // executor runs exactly this order (parallel/pipeline/interleaved.cpp).
      const int v = layout.virtual_stages;
      const int pairs = std::min(layout.micro_batches * v, 2 * (p - stage - 1) + (v - 1) * p + 1);
      return static_cast<double>(pairs) / v;
    }
  }
  return 1.0;
}

std::int64_t paddedParameters(const TrainingLayout& layout, std::int64_t parameters) {
  if (layout.zero == 0) return parameters;
  return zeroShard(parameters, layout.dp, layout.chunk_elements) * layout.dp;
}

ModelStateBytes modelStateBytes(const TrainingLayout& layout, std::int64_t parameters) {
  const bool fp32 = layout.precision == NumericFormat::fp32;
  const bool paper = layout.state_layout == StateLayout::zero_paper;
  const std::int64_t p = fp32 ? 4 : 2;
  const int z = layout.zero;
  const std::int64_t padded = paddedParameters(layout, parameters);
  const std::int64_t shard = padded / layout.dp;
  const std::int64_t owned = z >= 1 ? shard : parameters;  // what this rank's optimizer updates
  ModelStateBytes b;
  b.parameters = p * (z >= 3 ? shard : padded);
  b.optimizer = std::int64_t{layout.optimizer_state_bytes} * owned;
  if (fp32) {
    b.gradients = 4 * (z >= 2 ? shard : padded);
    // An offloaded fp32 optimizer updates its own master copy on the host (the device weights
    // are overwritten with it); in place otherwise.
    b.master_weights = (!paper && layout.optimizer_offload > 0) ? 4 * owned : 0;
    return b;
  }
  b.master_weights = 4 * owned;
  if (paper) {
    b.gradients = p * (z >= 2 ? shard : padded);
    return b;
  }
  switch (z) {
    case 0:  // 16-bit gradients, and their fp32 copy the masters are updated from
      b.gradients = p * padded;
      b.master_grads = 4 * padded;
      break;
    case 1:  // 16-bit gradients reduced whole; the update reads this rank's part of them
      b.gradients = p * padded;
      break;
    default:  // the reduced shard is kept in fp32; the 16-bit gradients are released
      b.gradients = 4 * shard;
      break;
  }
  return b;
}

MemoryEstimate estimateMemory(const ModelDescription& m, const TrainingLayout& layout, const MemoryAllowance& allowance) {
  m.validate();
  layout.validate();
  if (layout.pp > m.layers) {
    throw std::invalid_argument("layout.pp: " + std::to_string(layout.pp) + " stages cannot share " +
                                std::to_string(m.layers) + " layers");
  }
  if (m.experts % layout.ep != 0) {
    throw std::invalid_argument("layout.ep: " + std::to_string(layout.ep) + " does not divide the " +
                                std::to_string(m.experts) + " experts");
  }
  const bool fp32 = layout.precision == NumericFormat::fp32;
  const std::int64_t param_bytes = fp32 ? 4 : 2;
  const std::int64_t e = layout.activationBytes();
  const std::int64_t layer_activations = layerActivationBytes(m, layout);
  const std::int64_t layer_without_recompute = layerActivationBytes(m, layout, Recompute::none);
  const std::int64_t full_layer_params = layerShard(m, layout);
  const std::int64_t boundary = e * layout.micro_batch_size * m.seq_len / layout.sp * m.d_model /
                                (layout.sequence_parallel || layout.tensor_mode != TensorMode::one_d ? layout.tp : 1);

  const auto counts = stageParameterCounts(m, layout);
  const auto split = stageLayers(m.layers, layout.pp);
  MemoryEstimate estimate;
  for (int s = 0; s < layout.pp; ++s) {
    StageMemory stage;
    stage.stage = s;
    stage.first_layer = split[s].first;
    stage.layers = split[s].second;
    stage.holds_embedding = s == 0;
    stage.holds_head = s == layout.pp - 1;
    stage.parameters = counts[s];
    stage.in_flight_micro_batches = inFlightMicroBatches(layout, s);

    if (chunkPlanApplies(m, layout)) {
      addChunkTerms(planChunks(m, layout), layout, stage);
    } else {
      const ModelStateBytes states = modelStateBytes(layout, counts[s]);
      const double x = layout.optimizer_offload;
      stage.terms.push_back(splitTerm(kTermParameters, states.parameters, layout.parameter_offload));
      stage.terms.push_back(MemoryTerm{kTermGradients, states.gradients, 0});
      stage.terms.push_back(splitTerm(kTermOptimizer, states.optimizer, x));
      stage.terms.push_back(splitTerm(kTermMasterWeights, states.master_weights, x));
      stage.terms.push_back(splitTerm(kTermMasterGrads, states.master_grads, x));
    }

    std::int64_t per_micro_batch = stage.layers * layer_activations;
    if (stage.holds_embedding) per_micro_batch += embeddingActivationBytes(m, layout);
    if (stage.holds_head) per_micro_batch += headActivationBytes(m, layout);
    auto activations = static_cast<std::int64_t>(std::llround(stage.in_flight_micro_batches * static_cast<double>(per_micro_batch)));
    // Full recomputation re-materialises one layer at a time during backward.
    if (layout.recompute == Recompute::full && stage.layers > 0) activations += layer_without_recompute;
    stage.terms.push_back(MemoryTerm{kTermActivations, activations, 0});

    std::int64_t buffers = 0;
    if (layout.zero == 2 && layout.dp > 1) {
      // Full-size 16-bit gradients live between the micro-batches of an accumulating step; without
      // accumulation one bucket at a time is flattened and reduce-scattered.
      buffers += layout.micro_batches > 1 ? param_bytes * counts[s] : static_cast<std::int64_t>(layout.bucket_mb * kMiB);
    }
    if (layout.zero == 3 && layout.dp > 1 && !chunkPlanApplies(m, layout)) {
      // The layer being computed and the one being prefetched, gathered whole, plus one layer's
      // full gradient before it is reduce-scattered.
      buffers += 2 * param_bytes * full_layer_params + param_bytes * full_layer_params;
    }
    if (layout.pp > 1) buffers += 2 * boundary;  // send and receive of a stage boundary
    stage.terms.push_back(MemoryTerm{kTermCommBuffers, buffers, 0});

    const double counted = static_cast<double>(stage.deviceBytes());
    const std::int64_t framework = allowance.fixed_bytes + allowance.per_communicator_bytes * communicators(layout) +
                                   static_cast<std::int64_t>(std::llround(counted * allowance.fragmentation));
    stage.terms.push_back(MemoryTerm{kTermFramework, framework, 0});
    estimate.stages.push_back(std::move(stage));
  }
  return estimate;
}

}  // namespace behemoth
