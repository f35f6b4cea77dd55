#include "memory/chunk_plan.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <tuple>
#include <stdexcept>

#include "memory/activation_memory.h"
#include "memory/chunk_layout.h"

namespace behemoth {
namespace {

std::string str(std::int64_t value) { return std::to_string(value); }

// What backend/parallelize can split (its checks, with the same fields named).
void checkSplittable(const ModelDescription& m, int tp) {
  if (tp < 1) throw std::invalid_argument("parallel.tp: must be >= 1, got " + str(tp));
  if (tp == 1) return;
  if (m.heads % tp != 0) {
    throw std::invalid_argument("model.n_head: " + str(m.heads) + " heads cannot be split over parallel.tp (" +
                                str(tp) + ")");
  }
  if (m.kv_heads % tp != 0 && tp % m.kv_heads != 0) {
    throw std::invalid_argument("model.n_kv_head: " + str(m.kv_heads) +
                                " key/value heads cannot be split over or replicated across parallel.tp (" + str(tp) +
                                ")");
  }
  if (m.ffn_hidden % tp != 0) {
    throw std::invalid_argument("model.d_ff: the feed-forward width " + str(m.ffn_hidden) +
                                " is not divisible by parallel.tp (" + str(tp) + ")");
  }
}

// The zoo builds exactly two architectures; a description that differs from both is not a model
// the engine can chunk.
void checkZooModel(const ModelDescription& m) {
  const bool gpt = m.family == ModelFamily::gpt;
  if (m.experts != 1) {
    throw std::invalid_argument("model.experts: the engine builds no mixture of experts to chunk (" + str(m.experts) +
                                " experts)");
  }
  if (m.learned_positions != gpt || m.gated_mlp == gpt || m.biases != gpt || m.norm_bias != gpt) {
    throw std::invalid_argument("model.arch: the description's layers are not the zoo's " + modelFamilyName(m.family) +
                                " (docs/models.md)");
  }
}

// The forward stage (0 embed, 1 + i block i, layers + 1 head) that first uses a tensor.
int forwardStageOf(const std::string& name, int layers) {
  if (name == "tok_emb.weight" || name == "pos_emb.weight") return 0;
  if (name.rfind("blocks.", 0) == 0) return 1 + std::stoi(name.substr(7, name.find('.', 7) - 7));
  return layers + 1;
}

// Bytes one rank holds of a chunk's optimizer shard per element: fp32 gradient and AdamW's
// moments, and a separate fp32 master when the working shard cannot be the master (bf16, auto
// placement, or parameter and optimizer shards on different tiers: the engine's rule).
bool separateMaster(const TrainingLayout& layout, Tier param, Tier optim) {
  return layout.precision != NumericFormat::fp32 || layout.placement == ChunkPolicy::automatic || param != optim;
}

// auto placement, as far as a plan can tell before the first step traces the non-model memory:
// the step-1 activations of one micro-batch (memory/activation_memory.h) stand in for the trace.
// Every other term of the device tier is known: optimizer shards by the static fractions, the
// persistent chunk, the most chunks gathered at once. The parameter shards that fit in what is
// left stay on the device; the furthest next use is evicted first, and after a backward that is
// the last chunks of the use order, so the first chunks keep theirs.
void predictAutoParams(const ModelDescription& model, const TrainingLayout& layout, ChunkPlan& plan) {
  std::int64_t fixed = plan.persistent_gathered_bytes;
  std::int64_t regular_capacity = 0;
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    const PlannedChunk& chunk = plan.chunks[c];
    if (chunk.optim_tier == Tier::device) fixed += plan.optimShardBytes(c);
    if (chunk.persistent) {
      fixed += plan.paramShardBytes(c);
    } else {
      regular_capacity = chunk.capacity;
    }
  }
  fixed += std::int64_t{plan.max_gathered_chunks} * regular_capacity * plan.param_bytes_per_element;
  fixed += model.layers * layerActivationBytes(model, layout) + embeddingActivationBytes(model, layout) +
           headActivationBytes(model, layout);
  std::int64_t room = layout.device_budget_bytes - fixed;
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    PlannedChunk& chunk = plan.chunks[c];
    if (chunk.persistent) continue;
    const std::int64_t bytes = plan.paramShardBytes(c);
    chunk.param_tier = room >= bytes ? Tier::device : Tier::host;
    if (chunk.param_tier == Tier::device) room -= bytes;
  }
}

// What a layout's chunks are, before placement: it depends on the model, tp, dp and the chunk
// size only, so the search (which costs thousands of layouts per axis split) packs each once.
struct Packing {
  std::int64_t chunk_elements = 0;
  std::vector<PlannedChunk> chunks;  // tiers not yet set; gathers counted
  int max_gathered_chunks = 0;
  std::string widest_stage;
  std::int64_t widest_stage_gathered_elements = 0;
};

// The stages of one micro-batch as the engine runs them: forward stage j (0 embed, 1 + i block i,
// L + 1 head) holds exactly the chunks it uses (the others were released after the previous
// stage); backward stage j holds every chunk c with e(c) <= j <= l(c), the first and last stages
// using it (gathered at its first backward use, released once all its tensors have gradients,
// after the backward of e(c)). Gathers: one per forward run of consecutive stages using c, and one
// in backward unless the head uses c (it stays gathered from the head's forward into backward).
Packing pack(const ModelDescription& model, int tp, int dp, std::int64_t chunk_elements) {
  const std::vector<PlannedTensor> tensors = plannedTensors(model, tp);
  ChunkLayoutRequest request;
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    request.numels.push_back(tensors[t].numel);
    request.first_use.push_back(t);
    request.keep_gathered.push_back(tensors[t].keep_gathered);
  }
  request.dp = dp;
  request.chunk_elements = chunk_elements;
  const ChunkLayout packed(request);
  Packing packing;
  packing.chunk_elements = packed.chunkElements();
  for (const ChunkSpec& spec : packed.chunks()) {
    PlannedChunk chunk;
    for (const ChunkMember& member : spec.members) chunk.tensors.push_back(tensors[member.tensor].name);
    chunk.numel = spec.numel;
    chunk.capacity = spec.capacity;
    chunk.persistent = spec.persistent;
    packing.chunks.push_back(std::move(chunk));
  }
  const std::vector<PlannedStage> sequence = useSequence(model, tensors);
  const std::size_t stages = sequence.size() / 2;  // forward stages; backward mirrors them
  const std::size_t count = packing.chunks.size();
  // uses[j]: the regular chunks forward stage j uses.
  std::vector<std::set<std::size_t>> uses(stages);
  for (std::size_t j = 0; j < stages; ++j) {
    for (const std::size_t t : sequence[j].tensors) {
      const std::size_t c = packed.chunkOf(t);
      if (!packing.chunks[c].persistent) uses[j].insert(c);
    }
  }
  std::vector<std::size_t> first(count, stages), last(count, 0);
  for (std::size_t j = 0; j < stages; ++j) {
    for (const std::size_t c : uses[j]) {
      first[c] = std::min(first[c], j);
      last[c] = std::max(last[c], j);
      const bool continues = j > 0 && uses[j - 1].count(c) > 0;
      if (!continues) ++packing.chunks[c].gathers;
    }
  }
  const std::size_t head = stages - 1;
  for (std::size_t c = 0; c < count; ++c) {
    if (!packing.chunks[c].persistent && last[c] != head) ++packing.chunks[c].gathers;
  }
  const auto consider = [&](const PlannedStage& stage, const std::vector<std::size_t>& held) {
    std::int64_t gathered = 0;
    for (const std::size_t c : held) gathered += packing.chunks[c].capacity;
    if (gathered > packing.widest_stage_gathered_elements) {
      packing.widest_stage = stage.name + (stage.backward ? " (backward)" : "");
      packing.widest_stage_gathered_elements = gathered;
    }
    packing.max_gathered_chunks = std::max(packing.max_gathered_chunks, static_cast<int>(held.size()));
  };
  for (std::size_t j = 0; j < stages; ++j) consider(sequence[j], {uses[j].begin(), uses[j].end()});
  for (std::size_t j = stages; j-- > 0;) {
    std::vector<std::size_t> held;
    for (std::size_t c = 0; c < count; ++c) {
      if (!packing.chunks[c].persistent && first[c] <= j && j <= last[c]) held.push_back(c);
    }
    consider(sequence[sequence.size() - 1 - j], held);
  }
  return packing;
}

const Packing& cachedPacking(const ModelDescription& m, int tp, int dp, std::int64_t chunk_elements) {
  using Key = std::tuple<int, int, int, int, int, int, int, int, bool, int, int, std::int64_t>;
  const Key key{static_cast<int>(m.family), m.layers, m.d_model, m.heads, m.kv_heads, m.ffn_hidden, m.vocab,
                m.seq_len, m.tied_embeddings, tp, dp, chunk_elements};
  thread_local std::map<Key, Packing> cache;
  const auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  if (cache.size() >= 256) cache.clear();  // a bound, not an eviction policy: searches reuse few keys
  return cache.emplace(key, pack(m, tp, dp, chunk_elements)).first->second;
}

}  // namespace

bool chunkPlanApplies(const ModelDescription& model, const TrainingLayout& layout) {
  if (layout.zero != 3 || layout.pp != 1 || layout.tensor_mode != TensorMode::one_d) return false;
  try {
    checkZooModel(model);
    checkSplittable(model, layout.tp);
  } catch (const std::invalid_argument&) {
    return false;
  }
  return true;
}

std::vector<PlannedTensor> plannedTensors(const ModelDescription& m, int tp) {
  m.validate();
  checkZooModel(m);
  checkSplittable(m, tp);
  const std::int64_t d = m.d_model;
  const std::int64_t f = m.ffn_hidden;
  const std::int64_t t = tp;
  const std::int64_t vocab_rows = (std::int64_t{m.vocab} + t - 1) / t;  // padded to a multiple of tp, split
  std::vector<PlannedTensor> tensors;
  // 1-D tensors (norm weights, biases) are kept gathered in the persistent chunk, as the engine does.
  const auto add = [&tensors](std::string name, std::int64_t numel, bool one_dimensional = false) {
    tensors.push_back({std::move(name), numel, one_dimensional});
  };
  add("tok_emb.weight", vocab_rows * d);
  const bool gpt = m.family == ModelFamily::gpt;
  if (gpt) add("pos_emb.weight", std::int64_t{m.seq_len} * d);
  for (int i = 0; i < m.layers; ++i) {
    const std::string block = "blocks." + std::to_string(i) + ".";
    if (gpt) {
      // Column-parallel layers split their rows and biases; row-parallel ones their columns, their
      // biases replicated.
      add(block + "ln1.weight", d, true);
      add(block + "ln1.bias", d, true);
      add(block + "attn.qkv.weight", 3 * d * d / t);
      add(block + "attn.qkv.bias", 3 * d / t, true);
      add(block + "attn.proj.weight", d * d / t);
      add(block + "attn.proj.bias", d, true);
      add(block + "ln2.weight", d, true);
      add(block + "ln2.bias", d, true);
      add(block + "mlp.fc.weight", f * d / t);
      add(block + "mlp.fc.bias", f / t, true);
      add(block + "mlp.proj.weight", d * f / t);
      add(block + "mlp.proj.bias", d, true);
      continue;
    }
    const std::int64_t kv_width = m.kvWidth();
    // Fewer kv heads than tp ranks: each rank holds one whole kv head.
    const std::int64_t kv_rows = m.kv_heads % tp == 0 ? kv_width / t : m.headDim();
    add(block + "attn_norm.weight", d, true);
    add(block + "attn.q.weight", d * d / t);
    add(block + "attn.k.weight", kv_rows * d);
    add(block + "attn.v.weight", kv_rows * d);
    add(block + "attn.o.weight", d * d / t);
    add(block + "mlp_norm.weight", d, true);
    add(block + "mlp.gate.weight", f * d / t);
    add(block + "mlp.up.weight", f * d / t);
    add(block + "mlp.down.weight", d * f / t);
  }
  if (gpt) {
    add("ln_f.weight", d, true);
    add("ln_f.bias", d, true);
  } else {
    add("norm_f.weight", d, true);
  }
  if (!m.tied_embeddings) add("lm_head.weight", vocab_rows * d);
  return tensors;
}

std::vector<PlannedStage> useSequence(const ModelDescription& model, const std::vector<PlannedTensor>& tensors) {
  const int layers = model.layers;
  std::vector<PlannedStage> forward;
  forward.push_back({"embed", false, {}});
  for (int i = 0; i < layers; ++i) forward.push_back({"block " + std::to_string(i), false, {}});
  forward.push_back({"head", false, {}});
  for (std::size_t t = 0; t < tensors.size(); ++t) forward.at(forwardStageOf(tensors[t].name, layers)).tensors.push_back(t);
  // The tied head projects with the token embedding.
  if (model.tied_embeddings && !tensors.empty() && tensors.front().name == "tok_emb.weight") {
    std::vector<std::size_t>& head = forward.back().tensors;
    head.insert(head.begin(), 0);
  }
  std::vector<PlannedStage> sequence = forward;
  for (auto stage = forward.rbegin(); stage != forward.rend(); ++stage) {
    sequence.push_back(*stage);
    sequence.back().backward = true;
  }
  return sequence;
}

std::int64_t ChunkPlan::paddingElements() const {
  std::int64_t total = 0;
  for (const PlannedChunk& chunk : chunks) total += chunk.padding();
  return total;
}

std::int64_t ChunkPlan::capacityElements() const {
  std::int64_t total = 0;
  for (const PlannedChunk& chunk : chunks) total += chunk.capacity;
  return total;
}

int ChunkPlan::regularChunks() const {
  int count = 0;
  for (const PlannedChunk& chunk : chunks) count += chunk.persistent ? 0 : 1;
  return count;
}

ChunkPlan planChunks(const ModelDescription& model, const TrainingLayout& layout) {
  if (layout.zero != 3) {
    throw std::invalid_argument("chunk plan: parallel.zero is " + str(layout.zero) + "; chunks are ZeRO-3's");
  }
  if (layout.pp != 1) throw std::invalid_argument("parallel.pp: ZeRO-3 chunks do not compose with pipeline stages");
  if (layout.tensor_mode != TensorMode::one_d) {
    throw std::invalid_argument("parallel.tensor_mode: ZeRO-3 chunks are planned for 1D tensor parallelism");
  }
  layout.validate();
  const Packing& packing = cachedPacking(model, layout.tp, layout.dp, layout.chunk_elements);
  ChunkPlan plan;
  plan.chunk_elements = packing.chunk_elements;
  plan.chunks = packing.chunks;
  plan.max_gathered_chunks = packing.max_gathered_chunks;
  plan.widest_stage = packing.widest_stage;
  plan.dp = layout.dp;
  plan.param_bytes_per_element = layout.workingBytes();
  plan.optim_bytes_per_element = 4 + layout.optimizer_state_bytes;
  const int wb = plan.param_bytes_per_element;
  plan.widest_stage_gathered_bytes = packing.widest_stage_gathered_elements * wb;
  const bool persistent_last = !plan.chunks.empty() && plan.chunks.back().persistent;
  if (persistent_last) plan.persistent_gathered_bytes = plan.chunks.back().capacity * wb;

  const ChunkPlacement placement = staticPlacement(plan.chunks.size(), persistent_last, layout.parameter_offload,
                                                   layout.optimizer_offload, layout.disk_optim_fraction);
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    PlannedChunk& chunk = plan.chunks[c];
    chunk.param_tier = placement.param[c];
    chunk.optim_tier = placement.optim[c];
    chunk.separate_master = separateMaster(layout, chunk.param_tier, chunk.optim_tier);
  }
  if (layout.placement == ChunkPolicy::automatic) predictAutoParams(model, layout, plan);

  const std::int64_t m = layout.micro_batches;
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    const PlannedChunk& chunk = plan.chunks[c];
    const std::int64_t shard = chunk.capacity / layout.dp;
    const std::int64_t param = plan.paramShardBytes(c);
    const std::int64_t optim = plan.optimShardBytes(c);
    plan.tier_bytes[static_cast<int>(chunk.param_tier)] += param;
    plan.tier_bytes[static_cast<int>(chunk.optim_tier)] += optim;
    plan.model_state_bytes += param + optim;
    ++plan.chunks_on[static_cast<int>(chunk.param_tier)];
    ++plan.chunks_on[static_cast<int>(chunk.optim_tier)];
    // Each gather of a host parameter shard first copies it to the device.
    if (chunk.param_tier != Tier::device) plan.moved_bytes_per_step += m * chunk.gathers * param;
    // An optimizer shard off the device receives every micro-batch's reduced fp32 gradient shard;
    // a disk shard is read into host memory and written back around its update.
    if (chunk.optim_tier != Tier::device) plan.moved_bytes_per_step += m * shard * 4;
    if (chunk.optim_tier == Tier::disk) plan.moved_bytes_per_step += 2 * optim;
    // A separate master is copied into the parameter shard after the update, from where it was
    // updated (host memory for a disk shard).
    const Tier updated_on = chunk.optim_tier == Tier::disk ? Tier::host : chunk.optim_tier;
    if (chunk.separate_master && updated_on != chunk.param_tier) plan.moved_bytes_per_step += param;
  }
  plan.tier_bytes[static_cast<int>(Tier::device)] += plan.persistent_gathered_bytes;
  plan.model_state_bytes += plan.persistent_gathered_bytes;  // as the engine counts it at a step's end
  plan.device_peak_bytes = plan.tier_bytes[static_cast<int>(Tier::device)] + plan.widest_stage_gathered_bytes;
  return plan;
}

std::int64_t ChunkPlan::paramShardBytes(std::size_t chunk) const {
  return chunks.at(chunk).capacity / dp * param_bytes_per_element;
}

std::int64_t ChunkPlan::optimShardBytes(std::size_t chunk) const {
  const PlannedChunk& c = chunks.at(chunk);
  return c.capacity / dp * (optim_bytes_per_element + (c.separate_master ? 4 : 0));
}

}  // namespace behemoth
