#include "parallel/tensor_grid/grid_cost.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/comm_counter.h"

namespace behemoth {
namespace {

std::int64_t paddedTo(std::int64_t length, std::int64_t parts) { return (length + parts - 1) / parts * parts; }

// The linears of one block: input features K and the output features of each weight reading it.
struct LinearGroup {
  std::int64_t in = 0;
  std::vector<std::int64_t> outs;
  bool first_of_pair = true;  // 3d: "A" (qkv, fc; q, k, v; gate, up) or "B" (proj; o; down)
  bool bias = false;
};

std::vector<LinearGroup> blockLinears(const ModelDescription& m) {
  const std::int64_t h = m.d_model, f = m.ffn_hidden, q_width = std::int64_t{m.heads} * m.headDim(), kv = m.kvWidth();
  if (m.family == ModelFamily::gpt) {
    return {{h, {3 * h}, true, m.biases}, {h, {h}, false, m.biases}, {h, {f}, true, m.biases}, {f, {h}, false, m.biases}};
  }
  const std::vector<std::int64_t> mlp_outs = m.gated_mlp ? std::vector<std::int64_t>{f, f} : std::vector<std::int64_t>{f};
  return {{h, {q_width, kv, kv}, true, m.biases}, {q_width, {h}, false, m.biases}, {h, mlp_outs, true, m.biases},
          {f, {h}, false, m.biases}};
}

class CostBuilder {
 public:
  CostBuilder(const ModelDescription& m, const TensorGrid& g, const TensorParallelWorkload& w) : m_(m), g_(g), w_(w) {}

  void add(const std::string& label, std::int64_t bytes) {
    if (bytes != 0) cost.comm_bytes[label] += bytes * w_.micro_batches;
  }
  void addPerStep(const std::string& label, std::int64_t bytes) {
    if (bytes != 0) cost.comm_bytes[label] += bytes;
  }
  std::string label(int axis) const { return g_.axisLabel(axis); }
  int size(int axis) const { return g_.axisSizes()[axis]; }

  // A partial gradient of `elements` summed over each replication axis (size > 1).
  void gradientSum(std::int64_t elements, const std::vector<int>& axes) {
    for (int axis : axes) {
      if (size(axis) > 1) add(label(axis), allReduceBusBytes(elements * w_.element_bytes, size(axis)));
    }
  }

  TensorParallelCost cost;

 protected:
  const ModelDescription& m_;
  const TensorGrid& g_;
  const TensorParallelWorkload& w_;
};

// 2d / 2.5d (a = depth, b = grid row index, c = grid column index) and 3d (x, y, z).
TensorParallelCost gridCost(const ModelDescription& m, const TensorGrid& g, const TensorParallelWorkload& w) {
  CostBuilder b(m, g, w);
  const bool cube = g.mode == TensorParallelMode::three_d;
  const std::int64_t q = g.q, e = w.element_bytes, h = m.d_model;
  if (w.micro_batch % g.sampleChunks() != 0) {
    throw std::invalid_argument("tensor-parallel cost: a micro-batch of " + std::to_string(w.micro_batch) +
                                " sequences does not split into " + std::to_string(g.sampleChunks()) + " chunks");
  }
  const std::int64_t tokens = w.micro_batch / g.sampleChunks() * (m.seq_len / w.sequence_shards);  // a block's tokens per rank
  const std::int64_t vocab = paddedTo(m.vocab, g.vocabularyMultiple());
  // Elements of one rank's block of an [out, in] matrix: out over q, in over q (2d, 2.5d) or q^2 (3d).
  const auto matrixBlock = [&](std::int64_t out, std::int64_t in) { return out / q * (in / g.inputFeatureSplit()); };
  const std::vector<int> depth_replicas = cube ? std::vector<int>{} : std::vector<int>{0};
  // One gridMatmuls call: the input gathered twice (forward, backward) and its gradient
  // reduce-scattered; each weight likewise; 3d's output reduce-scattered and its gradient gathered.
  const auto linears = [&](const LinearGroup& group, bool holds_weights) {
    const int in_axis = !cube ? 2 : (group.first_of_pair ? 1 : 2);
    const int out_axis = !cube ? 2 : (group.first_of_pair ? 2 : 1);
    const int weight_axis = cube ? 0 : 1;
    const std::int64_t input = tokens * group.in * e;  // the gathered input's bytes
    b.add(b.label(in_axis), 2 * allGatherBusBytes(input, q) + reduceScatterBusBytes(input, q));
    for (std::int64_t out : group.outs) {
      const std::int64_t weight = cube ? out / q * (group.in / q) * e : out / q * group.in * e;  // the gathered block
      b.add(b.label(weight_axis), 2 * allGatherBusBytes(weight, q) + reduceScatterBusBytes(weight, q));
      if (cube) b.add(b.label(out_axis), reduceScatterBusBytes(tokens * out * e, q) + allGatherBusBytes(tokens * out * e, q));
      if (!holds_weights) continue;  // the tied head's weights are the table's
      b.cost.parameter_elements += matrixBlock(out, group.in);
      b.gradientSum(matrixBlock(out, group.in), depth_replicas);
      if (!group.bias) continue;
      // The bias holds the output features' chunk, replicated over the other two axes.
      const int bias_axis = !cube ? 2 : (group.first_of_pair ? 1 : 2);
      std::vector<int> others;
      for (int a = 0; a < 3; ++a) {
        if (a != bias_axis) others.push_back(a);
      }
      b.cost.parameter_elements += out / q;
      b.gradientSum(out / q, others);
    }
  };
  // A norm over the residual features (chunk c): its sums over the c axis, forward and backward,
  // and its weight (and bias) chunks, replicated over a and b.
  const std::vector<int> residual_replicas = {0, 1};
  const auto norm = [&] {
    const int sums = m.norm_bias ? 2 : 1;  // LayerNorm: mean and variance; RMSNorm: the mean square
    b.add(b.label(2), 2 * sums * allReduceBusBytes(4 * tokens, q));
    const int vectors = m.norm_bias ? 2 : 1;  // weight and bias, or weight
    for (int k = 0; k < vectors; ++k) {
      b.cost.parameter_elements += h / q;
      b.gradientSum(h / q, residual_replicas);
    }
  };
  // The embedding: the table's block gathered (its gradient reduce-scattered), the looked-up
  // partial rows reduce-scattered (their gradient gathered).
  if (w.embedding) {
    const std::int64_t table = cube ? vocab / q * (h / q) * e : vocab / q * h * e;
    b.add(b.label(cube ? 0 : 1), allGatherBusBytes(table, q) + reduceScatterBusBytes(table, q));
    const std::int64_t looked_up = tokens * h * e;
    b.add(b.label(cube ? 1 : 2), reduceScatterBusBytes(looked_up, q) + allGatherBusBytes(looked_up, q));
    b.cost.parameter_elements += matrixBlock(vocab, h);
    b.gradientSum(matrixBlock(vocab, h), depth_replicas);
    if (m.learned_positions) {
      b.cost.parameter_elements += std::int64_t{m.seq_len} * h / q;
      b.gradientSum(std::int64_t{m.seq_len} * h / q, residual_replicas);
    }
  }
  const std::vector<LinearGroup> groups = blockLinears(m);
  const int layers = w.layers < 0 ? m.layers : w.layers;
  for (int layer = 0; layer < layers; ++layer) {
    norm();
    linears(groups[0], true);
    linears(groups[1], true);
    norm();
    linears(groups[2], true);
    linears(groups[3], true);
  }
  if (w.head) {
    norm();
    // The head: an "A" linear over the table's blocks (tied: the embedding's own, or on a last
    // stage without the embedding its copy, stored alike) or the untied head's.
    linears(LinearGroup{h, {vocab}, true, false}, !m.tied_embeddings || !w.embedding);
    // The cross-entropy's three fp32 values per token over the vocabulary blocks, and the loss.
    b.add(b.label(cube ? 1 : 2), 3 * allReduceBusBytes(4 * tokens, q));
    b.add("tp", allReduceBusBytes(4, g.size()));
  }
  if (w.stages == 1) b.addPerStep("tp", allReduceBusBytes(8, g.size()));  // the global gradient norm
  b.cost.activation_elements = tokens * (h / q);
  return b.cost;
}

// Megatron 1D without sequence parallelism: an all-reduce of the [b, T, d] activations at the
// embedding, two forward and two backward per block and at the head; the vocabulary-parallel
// cross-entropy; shared kv heads' gradients; the norm.
TensorParallelCost oneDimensionalCost(const ModelDescription& m, int tp, const TensorParallelWorkload& w) {
  TensorParallelCost cost;
  const std::int64_t tokens = w.micro_batch * (m.seq_len / w.sequence_shards), e = w.element_bytes, h = m.d_model;
  const std::int64_t vocab = paddedTo(m.vocab, tp);
  if (tp > 1) {
    const std::int64_t exchanges = 2 + 4 * std::int64_t{m.layers};
    std::int64_t per_micro_batch = exchanges * allReduceBusBytes(tokens * h * e, tp) + 3 * allReduceBusBytes(4 * tokens, tp);
    // Fewer kv heads than ranks: each is held by tp / kv ranks, whose k and v gradients are summed
    // by one all-reduce per projection of a buffer with a slot per kv head.
    if (m.kv_heads % tp != 0) per_micro_batch += 2 * std::int64_t{m.layers} * allReduceBusBytes(m.kvWidth() * h * e, tp);
    cost.comm_bytes["tp"] = w.micro_batches * per_micro_batch + allReduceBusBytes(8, tp);
  }
  // Per rank: the table (and an untied head) and every column-parallel matrix and bias over tp, the
  // kv projections replicated where fewer kv heads than ranks; row-parallel biases, norms and
  // the position table whole.
  const std::int64_t kv_rows = m.kv_heads % tp == 0 ? m.kvWidth() / tp : m.headDim();
  std::int64_t per_layer = 0;
  const std::vector<LinearGroup> groups = blockLinears(m);
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const LinearGroup& group = groups[k];
    for (std::size_t w = 0; w < group.outs.size(); ++w) {
      const bool kv = m.family == ModelFamily::llama && k == 0 && w > 0;
      const std::int64_t out = group.outs[w];
      per_layer += group.first_of_pair ? (kv ? kv_rows : out / tp) * group.in : out * (group.in / tp);
      if (group.bias) per_layer += group.first_of_pair ? out / tp : out;
    }
  }
  per_layer += 2 * h * (m.norm_bias ? 2 : 1);
  std::int64_t total = m.layers * per_layer + vocab / tp * h * (m.tied_embeddings ? 1 : 2) + h * (m.norm_bias ? 2 : 1);
  if (m.learned_positions) total += std::int64_t{m.seq_len} * h;
  cost.parameter_elements = total;
  cost.activation_elements = tokens * h;
  return cost;
}

}  // namespace

std::int64_t TensorParallelCost::totalCommBytes() const {
  std::int64_t total = 0;
  for (const auto& [label, bytes] : comm_bytes) total += bytes;
  return total;
}

TensorParallelCost tensorParallelCost(const ModelDescription& model, const TensorGrid& grid, const TensorParallelWorkload& work) {
  if (!grid.isGrid()) return oneDimensionalCost(model, grid.q, work);
  return gridCost(model, grid, work);
}

}  // namespace behemoth
