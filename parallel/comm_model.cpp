#include "parallel/comm_model.h"

#include <algorithm>
#include <cmath>

#include "memory/chunk_plan.h"
#include "memory/memory_model.h"
#include "parallel/comm_counter.h"
#include "parallel/tensor_grid/grid_cost.h"

namespace behemoth {
namespace {

std::int64_t busBytes(CollectiveKind kind, std::int64_t payload, int n) {
  switch (kind) {
    case CollectiveKind::all_reduce: return allReduceBusBytes(payload, n);
    case CollectiveKind::reduce_scatter: return reduceScatterBusBytes(payload, n);
    case CollectiveKind::all_gather: return allGatherBusBytes(payload, n);
    case CollectiveKind::all_to_all: return allToAllBusBytes(payload, n);
    case CollectiveKind::broadcast: return broadcastBusBytes(payload, n);
    case CollectiveKind::send_recv: return n > 1 ? payload : 0;  // point to point: the payload itself
  }
  return 0;
}

class LoadList {
 public:
  LoadList(const TrainingLayout& layout, const std::array<Axis, kAxisCount>& order, int per_node,
           CollectiveBackend backend)
      : layout_(layout), order_(order), per_node_(per_node), backend_(backend) {}

  // The payload an all-reduce of `elements` values of `element_bytes` hands the backend: on gloo a
  // 2-byte one is padded to a multiple of the group (parallel/comm_counter.h).
  std::int64_t allReducePayload(std::int64_t element_bytes, std::int64_t elements, int group) const {
    if (backend_ == CollectiveBackend::gloo && element_bytes == 2 && group > 1) {
      return element_bytes * shardPaddedElements(elements, group);
    }
    return element_bytes * elements;
  }

  // One entry of known bus bytes per step (a mix of all-gathers and reduce-scatters).
  void addBusBytes(Axis axis, const std::string& what, std::int64_t bus_bytes, int group, int group_span) {
    if (group <= 1 || bus_bytes <= 0) return;
    CollectiveLoad load;
    load.axis = std::string(axisName(axis));
    load.what = what;
    load.kind = CollectiveKind::all_gather;
    load.payload_bytes = bus_bytes;
    load.group_size = group;
    load.count = 1;
    load.bus_bytes = bus_bytes;
    load.intra_node = per_node_ <= 0 || group_span <= per_node_;
    load.window = OverlapWindow::none;
    loads_.push_back(load);
  }

  void add(Axis axis, const char* what, CollectiveKind kind, std::int64_t payload, int group, std::int64_t count,
           OverlapWindow window, int group_span = 0) {
    if (group <= 1 || count <= 0 || payload <= 0) return;
    CollectiveLoad load;
    load.axis = std::string(axisName(axis));
    load.what = what;
    load.kind = kind;
    load.payload_bytes = payload;
    load.group_size = group;
    load.count = count;
    load.bus_bytes = busBytes(kind, payload, group);
    load.intra_node = per_node_ <= 0 || (group_span > 0 ? group_span : span(axis)) <= per_node_;
    load.window = window;
    loads_.push_back(load);
  }

  // Consecutive devices one group of `axis` covers: its size times the sizes of the axes inside it.
  int span(Axis axis) const {
    int inner = 1;
    bool inside = false;
    for (Axis a : order_) {
      if (inside) inner *= sizeOf(a);
      if (a == axis) inside = true;
    }
    return inner * sizeOf(axis);
  }

  int sizeOf(Axis axis) const {
    switch (axis) {
      case Axis::dp: return layout_.dp;
      case Axis::pp: return layout_.pp;
      case Axis::tp: return layout_.tp;
      case Axis::sp: return layout_.sp;
      case Axis::ep: return layout_.ep;
    }
    return 1;
  }

  std::vector<CollectiveLoad> take() { return std::move(loads_); }

 private:
  const TrainingLayout& layout_;
  const std::array<Axis, kAxisCount>& order_;
  int per_node_;
  CollectiveBackend backend_;
  std::vector<CollectiveLoad> loads_;
};

// Data-like gradient synchronisation of the stage's weights (ZeRO on dp; sp and ep replicas of
// the dense weights join the reduction). With ZeRO the buffers are padded to P' (memory_model.h).
void addDataParallel(LoadList& list, const TrainingLayout& layout, std::int64_t stage_params) {
  const int group = layout.denseReplicas();
  const std::int64_t g = layout.reduceBytes();   // gradients travel in parallel.reduce_dtype
  const std::int64_t p = layout.workingBytes();  // parameters travel in the working dtype
  const std::int64_t padded = paddedParameters(layout, stage_params);
  const std::int64_t m = layout.micro_batches;
  switch (layout.zero) {
    case 0:
      list.add(Axis::dp, "gradient all-reduce", CollectiveKind::all_reduce, list.allReducePayload(g, padded, group),
               group, 1, OverlapWindow::last_backward);
      break;
    case 1:
      // Full gradients are kept, but only each rank's shard is reduced (as in the paper): reduce-
      // scatter plus all-gather move what plain dp's all-reduce moves.
      list.add(Axis::dp, "gradient reduce-scatter", CollectiveKind::reduce_scatter, g * padded, group, 1,
               OverlapWindow::last_backward);
      list.add(Axis::dp, "parameter all-gather", CollectiveKind::all_gather, p * padded, group, 1, OverlapWindow::none);
      break;
    case 2:
      // One reduce-scatter per step (earlier micro-batches accumulate full gradients).
      list.add(Axis::dp, "gradient reduce-scatter", CollectiveKind::reduce_scatter, g * padded, group, 1,
               OverlapWindow::last_backward);
      list.add(Axis::dp, "parameter all-gather", CollectiveKind::all_gather, p * padded, group, 1, OverlapWindow::none);
      break;
    default:
      list.add(Axis::dp, "parameter all-gather (fwd+bwd)", CollectiveKind::all_gather, p * padded, group, 2 * m,
               OverlapWindow::compute);
      list.add(Axis::dp, "gradient reduce-scatter", CollectiveKind::reduce_scatter, g * padded, group, m,
               OverlapWindow::compute);
      break;
  }
  // Sharded gradients: the global norm (clipping, and fp16's overflow check) needs one 8-byte sum.
  const bool needs_norm = layout.clip_gradients || layout.precision == NumericFormat::fp16;
  if (layout.zero >= 1 && needs_norm) {
    list.add(Axis::dp, "gradient-norm all-reduce", CollectiveKind::all_reduce, 8, group, 1, OverlapWindow::none);
  }
}

// ZeRO-3 as the engine runs it (memory/chunk_plan.h): per micro-batch every regular chunk is
// all-gathered once per run of stages that use it (forward and backward) and reduce-scattered
// once, the persistent chunk reduce-scattered too; per step the 8-byte global norm (always) and the
// persistent chunk's all-gather after the update. Gradients travel in parallel.reduce_dtype.
void addChunkCollectives(LoadList& list, const ModelDescription& model, const TrainingLayout& layout) {
  const ChunkPlan plan = planChunks(model, layout);
  const int group = layout.dp;
  const std::int64_t p = layout.workingBytes();
  const std::int64_t g = layout.reduceBytes();
  const std::int64_t m = layout.micro_batches;
  std::int64_t gathers = 0;
  std::int64_t regular = 0;
  std::int64_t persistent = 0;
  for (const PlannedChunk& chunk : plan.chunks) {
    if (chunk.persistent) {
      persistent = chunk.capacity;
      continue;
    }
    gathers += chunk.gathers;
    ++regular;
  }
  const std::int64_t k = plan.chunk_elements;
  list.add(Axis::dp, "chunk all-gather (fwd+bwd)", CollectiveKind::all_gather, p * k, group, m * gathers,
           OverlapWindow::compute);
  list.add(Axis::dp, "chunk gradient reduce-scatter", CollectiveKind::reduce_scatter, g * k, group, m * regular,
           OverlapWindow::compute);
  list.add(Axis::dp, "persistent chunk gradient reduce-scatter", CollectiveKind::reduce_scatter, g * persistent, group,
           m, OverlapWindow::last_backward);
  // The engine reduces the squared norm every step (it reports grad_norm), clipping or not.
  list.add(Axis::dp, "gradient-norm all-reduce", CollectiveKind::all_reduce, 8, group, 1, OverlapWindow::none);
  list.add(Axis::dp, "persistent chunk all-gather", CollectiveKind::all_gather, p * persistent, group, 1,
           OverlapWindow::none);
}

// Sequence parallelism: the parameters every tp rank replicates (norms, row-parallel biases,
// position embeddings) see 1/tp of the tokens each, so their gradients are summed over tp: one
// all-reduce per tensor and micro-batch, in the working dtype.
void addReplicatedGradients(LoadList& list, const ModelDescription& model, const TrainingLayout& layout, int layers,
                            bool embedding, bool head) {
  const std::int64_t p = layout.workingBytes();
  const std::int64_t d = model.d_model;
  const std::int64_t m = layout.micro_batches;
  std::int64_t vectors = std::int64_t{layers} * ((model.norm_bias ? 4 : 2) + (model.biases ? 2 : 0));
  if (head) vectors += model.norm_bias ? 2 : 1;
  list.add(Axis::tp, "sequence-parallel replicated-gradient all-reduce", CollectiveKind::all_reduce,
           list.allReducePayload(p, d, layout.tp), layout.tp, m * vectors, OverlapWindow::none);
  if (embedding && model.learned_positions) {
    list.add(Axis::tp, "sequence-parallel position-embedding gradient all-reduce", CollectiveKind::all_reduce,
             list.allReducePayload(p, model.seq_len * d, layout.tp), layout.tp, m, OverlapWindow::none);
  }
}

void addTensorParallel(LoadList& list, const ModelDescription& model, const TrainingLayout& layout, int layers,
                       bool embedding, bool head) {
  const int t = layout.tp;
  if (t == 1) return;
  const std::int64_t e = layout.activationBytes();
  const std::int64_t tokens = std::int64_t{layout.micro_batch_size} * model.seq_len / layout.sp;
  const std::int64_t m = layout.micro_batches;
  const std::int64_t recompute_forward = layout.recompute == Recompute::full ? 1 : 0;
  const std::int64_t d = model.d_model;
  if (layout.tensor_mode == TensorMode::one_d) {
    // Megatron: two all-reduces in forward (after attention and MLP) and two in backward; with
    // sequence parallelism each becomes an all-gather plus a reduce-scatter of the same bus bytes.
    const std::int64_t activation = e * tokens * d;
    const std::int64_t activation_all_reduce = list.allReducePayload(e, tokens * d, t);
    const std::int64_t per_layer = 4 + 2 * recompute_forward;
    std::int64_t count = m * layers * per_layer;
    if (embedding) count += m;  // vocabulary-parallel embedding output
    if (head) count += m;       // gradient of the head's input
    if (layout.sequence_parallel) {
      // A column-parallel matmul keeps only the sequence shard of its input and gathers it again
      // in backward for the weight gradient: one more all-gather per column-parallel input (the
      // QKV and MLP inputs of each layer, the head's input).
      const std::int64_t regathers = m * (2 * std::int64_t{layers} + (head ? 1 : 0));
      list.add(Axis::tp, "sequence-parallel all-gather", CollectiveKind::all_gather, activation, t, count + regathers,
               OverlapWindow::none);
      list.add(Axis::tp, "sequence-parallel reduce-scatter", CollectiveKind::reduce_scatter, activation, t, count,
               OverlapWindow::none);
      addReplicatedGradients(list, model, layout, layers, embedding, head);
    } else {
      list.add(Axis::tp, "activation all-reduce", CollectiveKind::all_reduce, activation_all_reduce, t, count,
               OverlapWindow::none);
    }
    if (model.kv_heads < t) {
      // Each kv head lives on t / kv_heads ranks: their partial gradients are summed by one
      // all-reduce per projection (k and v) of a buffer holding every kv head.
      const std::int64_t kv_matrix =
          list.allReducePayload(layout.workingBytes(), model.kvWidth() * (d + (model.biases ? 1 : 0)), t);
      list.add(Axis::tp, "shared kv-head gradient all-reduce", CollectiveKind::all_reduce, kv_matrix, t,
               2 * m * layers, OverlapWindow::none);
    }
    if (head) {
      // Vocabulary-parallel cross-entropy: max, sum of exponentials and target logit per token
      // (fp32) of each of this rank's tokens (its sp shard), never the logits themselves.
      list.add(Axis::tp, "vocab-parallel cross-entropy all-reduce", CollectiveKind::all_reduce, 4 * tokens, t,
               3 * m, OverlapWindow::none);
    }
    if (layout.clip_gradients || layout.precision == NumericFormat::fp16) {
      list.add(Axis::tp, "gradient-norm all-reduce", CollectiveKind::all_reduce, 8, t, 1, OverlapWindow::none);
    }
    return;
  }
  // 2D / 2.5D / 3D: the grid layers' collectives per sub-axis, as parallel/tensor_grid/grid_cost.h
  // writes them from the engine's layers (the parity tests hold the engine to it). A sub-axis
  // group spans its own size times the ranks nested inside it.
  const TensorGrid grid = TensorGrid::fromPlan(t, tensorModeName(layout.tensor_mode), layout.tensor_depth);
  TensorParallelWorkload work;
  work.micro_batch = layout.micro_batch_size;
  work.micro_batches = layout.micro_batches;
  work.element_bytes = static_cast<int>(e);
  work.layers = layers;
  work.embedding = embedding;
  work.head = head;
  work.stages = layout.pp;
  work.sequence_shards = layout.sp;
  const TensorParallelCost cost = tensorParallelCost(model, grid, work);
  const auto sizes = grid.axisSizes();
  for (const auto& [label, bytes] : cost.comm_bytes) {
    int group = t, span = t;
    for (int axis = 0; axis < 3; ++axis) {
      if (grid.axisLabel(axis) != label) continue;
      group = sizes[axis];
      span = 1;
      for (int inner = axis; inner < 3; ++inner) span *= sizes[inner];
    }
    list.addBusBytes(Axis::tp, label + " grid collectives", bytes, group, span);
  }
}

}  // namespace

CollectiveBackend collectiveBackendFor(const std::string& device_kind) {
  return device_kind == "cpu" ? CollectiveBackend::gloo : CollectiveBackend::nccl;
}

std::vector<CollectiveLoad> stepCollectives(const ModelDescription& model, const TrainingLayout& layout,
                                            const std::array<Axis, kAxisCount>& order, int per_node,
                                            CollectiveBackend backend) {
  LoadList list(layout, order, per_node, backend);
  const auto counts = stageParameterCounts(model, layout);
  const auto layers = stageLayers(model.layers, layout.pp);
  // Describe the busiest stage (most parameters: its gradient traffic dominates).
  const auto busiest = static_cast<int>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  const std::int64_t e = layout.activationBytes();
  const std::int64_t tokens = std::int64_t{layout.micro_batch_size} * model.seq_len / layout.sp;
  const std::int64_t m = layout.micro_batches;
  const int stage_layers = layers[busiest].second;

  if (chunkPlanApplies(model, layout)) {
    addChunkCollectives(list, model, layout);
  } else {
    addDataParallel(list, layout, counts[busiest]);
  }
  addTensorParallel(list, model, layout, stage_layers, busiest == 0, busiest == layout.pp - 1);

  if (layout.pp > 1) {
    const bool split_boundary = layout.sequence_parallel || layout.tensor_mode != TensorMode::one_d;
    const std::int64_t boundary = e * tokens * model.d_model / (split_boundary ? layout.tp : 1);
    // Activations forward and their gradients backward, once per micro-batch and model chunk.
    list.add(Axis::pp, "stage activations send/recv", CollectiveKind::send_recv, boundary, layout.pp,
             2 * m * layout.virtual_stages, OverlapWindow::none);
  }
  if (layout.sp > 1) {
    const std::int64_t kv = model.kvWidth();
    if (layout.context_mode == ContextMode::ulysses) {
      // Q, K, V to head-split and the output back: forward and backward.
      const std::int64_t payload = e * tokens * (2 * model.d_model + 2 * kv) / layout.tp;
      list.add(Axis::sp, "Ulysses all-to-all", CollectiveKind::all_to_all, payload, layout.sp, 2 * m * stage_layers,
               OverlapWindow::none);
    } else {
      // K and V chunks travel the ring forward (sp - 1 hops) and again backward; their float32
      // gradient follows them backward and takes one hop more, back to the chunk's owner.
      const std::int64_t chunk = e * tokens * 2 * kv / layout.tp;
      list.add(Axis::sp, "ring attention K/V", CollectiveKind::send_recv, chunk, layout.sp,
               2 * std::int64_t{layout.sp - 1} * m * stage_layers, OverlapWindow::compute);
      list.add(Axis::sp, "ring attention K/V gradient", CollectiveKind::send_recv, 4 * tokens * 2 * kv / layout.tp,
               layout.sp, std::int64_t{layout.sp} * m * stage_layers, OverlapWindow::compute);
    }
  }
  if (layout.ep > 1 && model.experts > 1) {
    const std::int64_t payload = e * tokens * model.experts_per_token * model.d_model;
    list.add(Axis::ep, "expert dispatch/combine all-to-all", CollectiveKind::all_to_all, payload, layout.ep,
             4 * m * stage_layers, OverlapWindow::none);
  }
  return list.take();
}

std::int64_t stepCommBytes(const std::vector<CollectiveLoad>& loads) {
  std::int64_t total = 0;
  for (const auto& load : loads) total += load.bus_bytes * load.count;
  return total;
}

}  // namespace behemoth
