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

// Bytes one rank holds of the chunk's optimizer shard per element: fp32 gradient, AdamW's
// moments, and the fp32 master when the working dtype is 16-bit.
int optimBytesPerElement(const TrainingLayout& layout) {
  return 4 + layout.optimizer_state_bytes + (layout.precision == NumericFormat::fp32 ? 0 : 4);
}

// auto placement, as far as a plan can tell before the first step traces the non-model memory:
// the step-1 activations of one micro-batch (memory/activation_memory.h) stand in for the trace.
// Every other term of the device tier is known: optimizer shards by the static fractions, the
// persistent chunk, the most chunks gathered at once. The parameter shards that fit in what is
// left stay on the device; the furthest next use is evicted first, and after a backward that is
// the last chunks of the use order, so the first chunks keep theirs.
void predictAutoParams(const ModelDescription& model, const TrainingLayout& layout, ChunkPlan& plan) {
  const int wb = plan.param_bytes_per_element;
  std::int64_t fixed = plan.persistent_gathered_bytes;
  std::int64_t regular_bytes = 0;
  for (const PlannedChunk& chunk : plan.chunks) {
    const std::int64_t shard = chunk.capacity / layout.dp;
    if (chunk.optim_tier == Tier::device) fixed += shard * plan.optim_bytes_per_element;
    if (chunk.persistent) fixed += shard * wb;
    else regular_bytes = chunk.capacity;
  }
  fixed += std::int64_t{plan.max_gathered_chunks} * regular_bytes * wb;
  fixed += model.layers * layerActivationBytes(model, layout) + embeddingActivationBytes(model, layout) +
           headActivationBytes(model, layout);
  std::int64_t room = layout.device_budget_bytes - fixed;
  for (PlannedChunk& chunk : plan.chunks) {
    if (chunk.persistent) continue;
    const std::int64_t bytes = chunk.capacity / layout.dp * wb;
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

Packing pack(const ModelDescription& model, int tp, int dp, std::int64_t chunk_elements) {
  const std::vector<PlannedTensor> tensors = plannedTensors(model, tp);
  ChunkLayoutRequest request;
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    request.numels.push_back(tensors[t].numel);
    request.first_use.push_back(t);
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
  // Gathers per micro-batch: a regular chunk is gathered where a run of stages using it starts.
  const std::vector<PlannedStage> sequence = useSequence(model, tensors);
  std::vector<std::ptrdiff_t> last_use(packing.chunks.size(), -2);
  for (std::size_t s = 0; s < sequence.size(); ++s) {
    std::set<std::size_t> used;
    for (const std::size_t t : sequence[s].tensors) {
      const std::size_t c = packed.chunkOf(t);
      if (!packing.chunks[c].persistent) used.insert(c);
    }
    std::int64_t gathered = 0;
    for (const std::size_t c : used) {
      if (last_use[c] != static_cast<std::ptrdiff_t>(s) - 1) ++packing.chunks[c].gathers;
      last_use[c] = static_cast<std::ptrdiff_t>(s);
      gathered += packing.chunks[c].capacity;
    }
    if (gathered > packing.widest_stage_gathered_elements) {
      packing.widest_stage = sequence[s].name;
      packing.widest_stage_gathered_elements = gathered;
    }
    packing.max_gathered_chunks = std::max(packing.max_gathered_chunks, static_cast<int>(used.size()));
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
  const auto add = [&tensors](std::string name, std::int64_t numel) { tensors.push_back({std::move(name), numel}); };
  add("tok_emb.weight", vocab_rows * d);
  const bool gpt = m.family == ModelFamily::gpt;
  if (gpt) add("pos_emb.weight", std::int64_t{m.seq_len} * d);
  for (int i = 0; i < m.layers; ++i) {
    const std::string block = "blocks." + std::to_string(i) + ".";
    if (gpt) {
      // Column-parallel layers split their rows and biases; row-parallel ones their columns, their
      // biases replicated.
      add(block + "ln1.weight", d);
      add(block + "ln1.bias", d);
      add(block + "attn.qkv.weight", 3 * d * d / t);
      add(block + "attn.qkv.bias", 3 * d / t);
      add(block + "attn.proj.weight", d * d / t);
      add(block + "attn.proj.bias", d);
      add(block + "ln2.weight", d);
      add(block + "ln2.bias", d);
      add(block + "mlp.fc.weight", f * d / t);
      add(block + "mlp.fc.bias", f / t);
      add(block + "mlp.proj.weight", d * f / t);
      add(block + "mlp.proj.bias", d);
      continue;
    }
    const std::int64_t kv_width = m.kvWidth();
    // Fewer kv heads than tp ranks: each rank holds one whole kv head.
    const std::int64_t kv_rows = m.kv_heads % tp == 0 ? kv_width / t : m.headDim();
    add(block + "attn_norm.weight", d);
    add(block + "attn.q.weight", d * d / t);
    add(block + "attn.k.weight", kv_rows * d);
    add(block + "attn.v.weight", kv_rows * d);
    add(block + "attn.o.weight", d * d / t);
    add(block + "mlp_norm.weight", d);
    add(block + "mlp.gate.weight", f * d / t);
    add(block + "mlp.up.weight", f * d / t);
    add(block + "mlp.down.weight", d * f / t);
  }
  if (gpt) {
    add("ln_f.weight", d);
    add("ln_f.bias", d);
  } else {
    add("norm_f.weight", d);
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
  plan.param_bytes_per_element = layout.workingBytes();
  plan.optim_bytes_per_element = optimBytesPerElement(layout);
  const int wb = plan.param_bytes_per_element;
  const int ob = plan.optim_bytes_per_element;
  const std::int64_t dp = layout.dp;
  plan.widest_stage_gathered_bytes = packing.widest_stage_gathered_elements * wb;
  const bool persistent_last = !plan.chunks.empty() && plan.chunks.back().persistent;
  if (persistent_last) plan.persistent_gathered_bytes = plan.chunks.back().capacity * wb;

  const ChunkPlacement placement = staticPlacement(plan.chunks.size(), persistent_last, layout.parameter_offload,
                                                   layout.optimizer_offload, layout.disk_optim_fraction);
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    plan.chunks[c].param_tier = placement.param[c];
    plan.chunks[c].optim_tier = placement.optim[c];
  }
  if (layout.placement == ChunkPolicy::automatic) predictAutoParams(model, layout, plan);

  const std::int64_t m = layout.micro_batches;
  std::int64_t regular_capacity = 0;
  for (const PlannedChunk& chunk : plan.chunks) {
    const std::int64_t shard = chunk.capacity / dp;
    const std::int64_t param = shard * wb;
    const std::int64_t optim = shard * ob;
    plan.tier_bytes[static_cast<int>(chunk.param_tier)] += param;
    plan.tier_bytes[static_cast<int>(chunk.optim_tier)] += optim;
    plan.model_state_bytes += param + optim;
    ++plan.chunks_on[static_cast<int>(chunk.param_tier)];
    ++plan.chunks_on[static_cast<int>(chunk.optim_tier)];
    if (!chunk.persistent) regular_capacity = chunk.capacity;
    // Each gather of a host parameter shard first copies it to the device.
    if (chunk.param_tier != Tier::device) plan.moved_bytes_per_step += m * chunk.gathers * param;
    // An optimizer shard off the device receives every micro-batch's reduced fp32 gradient shard;
    // a disk shard is read into host staging and written back around its update.
    if (chunk.optim_tier != Tier::device) plan.moved_bytes_per_step += m * shard * 4;
    if (chunk.optim_tier == Tier::disk) plan.moved_bytes_per_step += 2 * optim;
    // The updated parameter shard goes back to its own tier.
    if (chunk.param_tier != chunk.optim_tier) plan.moved_bytes_per_step += param;
  }
  plan.tier_bytes[static_cast<int>(Tier::device)] += plan.persistent_gathered_bytes;
  plan.device_peak_bytes = plan.tier_bytes[static_cast<int>(Tier::device)] +
                           std::int64_t{plan.max_gathered_chunks} * regular_capacity * wb;
  return plan;
}

}  // namespace behemoth
