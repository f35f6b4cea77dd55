#include "backend/parallelize/grid_parallelize.h"

#include <ATen/ATen.h>

#include <array>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/model/gpt.h"
#include "backend/model/language_model.h"
#include "backend/parallelize/grid_layers.h"
#include "parallel/tensor_grid/tensor_grid.h"
#include "parallel/tensor_parallel/tensor_parallel_ops.h"
#include "parallel/world.h"

namespace behemoth {
namespace {

std::string str(std::int64_t value) { return std::to_string(value); }

constexpr int kA = 0, kB = 1, kC = 2;  // the grid's sub-axes (tensor_grid.h)

// The model-facing side of the grid (grid_hooks.h).
class GridHooks : public GridTensorParallel {
 public:
  GridHooks(GridActivationPlacement placement, GridMatmul head, Group& loss_group, Group& tp, std::int64_t padded_vocab,
            std::int64_t vocab)
      : placement_(placement), head_(head), loss_group_(loss_group), tp_(tp), padded_vocab_(padded_vocab), vocab_(vocab) {}

  GridActivationPlacement activations() const override { return placement_; }

  at::Tensor outputProjection(const at::Tensor& hidden, const at::Tensor& table_block) const override {
    return gridMatmuls(hidden, {table_block}, head_)[0];
  }

  at::Tensor loss(const at::Tensor& logits_block, const at::Tensor& targets) const override {
    const std::int64_t rows = targets.size(0) / placement_.sample_chunks;
    if (rows * placement_.sample_chunks != targets.size(0) || logits_block.size(0) != rows) {
      throw std::invalid_argument("grid tensor parallelism: " + str(targets.size(0)) + " target rows do not split into " +
                                  str(placement_.sample_chunks) + " chunks of the logits' " + str(logits_block.size(0)));
    }
    const at::Tensor mine = targets.narrow(0, rows * placement_.inner_sample_chunk, rows);
    const std::int64_t first_column = placement_.inner_feature_chunk * (padded_vocab_ / placement_.feature_chunks);
    // Every rank of loss_group gets its chunk's mean; the micro-batch's mean is their average.
    const at::Tensor share = vocabParallelCrossEntropy(logits_block, mine, first_column, vocab_, loss_group_) /
                             static_cast<double>(placement_.sample_chunks);
    at::Tensor total = share.detach().clone();
    tp_.allReduce(total);
    return reportedAs(share, total / static_cast<double>(loss_group_.size()));
  }

 private:
  GridActivationPlacement placement_;
  GridMatmul head_;
  Group& loss_group_;
  Group& tp_;
  std::int64_t padded_vocab_;
  std::int64_t vocab_;
};

// Slices this rank's blocks out of the full (seed-initialized) parameters and swaps the layers.
class GridSharder {
 public:
  GridSharder(LanguageModel& model, const TensorGrid& grid, int tp_rank, std::array<Group*, 3> along)
      : model_(model), grid_(grid), c_(grid.coordinates(tp_rank)), along_(along) {
    for (const auto& item : model.named_parameters()) full_[item.key()] = item.value().detach();
    layout.tp = grid.size();
    layout.padded_vocab = paddedToMultiple(model.config().vocab_size, grid.vocabularyMultiple());
  }

  bool has(const std::string& name) const { return full_.count(name) > 0; }
  at::Tensor full(const std::string& name) const {
    const auto found = full_.find(name);
    if (found == full_.end()) throw std::logic_error("grid parallelize: the model has no parameter '" + name + "'");
    return found->second;
  }
  bool threeD() const { return grid_.mode == TensorParallelMode::three_d; }
  int q() const { return grid_.q; }
  int coordinate(int axis) const { return c_[axis]; }
  Group& along(int axis) const { return *along_[axis]; }

  // The block of `tensor` the splits name, a new leaf.
  at::Tensor block(at::Tensor tensor, const std::vector<GridSplit>& splits, const std::string& what) const {
    for (const GridSplit& split : splits) {
      const std::int64_t padded = paddedToMultiple(tensor.size(split.dim), split.parts);
      if (padded != tensor.size(split.dim)) {  // the vocabulary: zero rows that never change the loss
        std::vector<std::int64_t> sizes = tensor.sizes().vec();
        sizes[split.dim] = padded - tensor.size(split.dim);
        tensor = at::cat({tensor, at::zeros(sizes, tensor.options())}, split.dim);
      }
      std::vector<at::Tensor> parts;
      for (const at::Tensor& piece : tensor.chunk(split.interleaved, split.dim)) {
        if (piece.size(split.dim) % split.parts != 0) {
          throw std::invalid_argument(what + ": " + str(piece.size(split.dim)) + " cannot be split into " + str(split.parts) +
                                      " blocks of the parallel.tp_mode " + std::string(tensorParallelModeName(grid_.mode)) +
                                      " grid");
        }
        const std::int64_t size = piece.size(split.dim) / split.parts;
        parts.push_back(piece.narrow(split.dim, size * split.index, size));
      }
      tensor = at::cat(parts, split.dim);
    }
    return tensor.clone().requires_grad_(true);
  }

  // Records where `name` lives: its splits, and the sub-axes over which ranks hold the same block
  // (their gradients are parts: summed over those axes by a hook after the model is built).
  at::Tensor take(const std::string& name, const std::vector<GridSplit>& splits, const std::vector<int>& replicated) {
    ParameterPlacement place;
    place.grid = splits;
    for (GridSplit& split : place.grid) split.full_size = full(name).size(split.dim);
    place.sharded = !splits.empty();
    const auto sizes = grid_.axisSizes();
    for (int axis : replicated) {
      if (sizes[axis] == 1) continue;
      place.copy_index = place.copy_index * sizes[axis] + c_[axis];
      place.copies *= sizes[axis];
      hooks_[name].push_back(along_[axis]);
    }
    place.partial_gradient = place.copies > 1;
    layout.placements[name] = place;
    return block(full(name), splits, name);
  }

  // Replicated over every sub-axis but the one whose chunk of the features the vector holds.
  std::vector<int> allBut(int axis) const {
    std::vector<int> others;
    for (int a = 0; a < 3; ++a) {
      if (a != axis) others.push_back(a);
    }
    return others;
  }

  // 2d / 2.5d: every linear is out chunk c, in chunk b, replicated over depth. 3d: "A" (first of a
  // pair) out chunk y, in chunk z q + x; "B" out chunk z, in chunk y q + x.
  void linear(const std::string& path, bool first_of_pair, int interleaved = 1,
              std::shared_ptr<SharedGridInput> shared = nullptr) {
    int out_axis = kC;
    std::vector<GridSplit> splits;
    std::vector<int> replicated;
    GridMatmul spec;
    if (!threeD()) {
      splits = {{0, q(), c_[kC], interleaved, 0}, {1, q(), c_[kB], 1, 0}};
      replicated = {kA};
      spec = {&along(kC), -1, &along(kB), 1, nullptr};
    } else if (first_of_pair) {
      out_axis = kB;
      splits = {{0, q(), c_[kB], interleaved, 0}, {1, q() * q(), c_[kC] * q() + c_[kA], 1, 0}};
      spec = {&along(kB), 0, &along(kA), 1, &along(kC)};
    } else {
      splits = {{0, q(), c_[kC], interleaved, 0}, {1, q() * q(), c_[kB] * q() + c_[kA], 1, 0}};
      spec = {&along(kC), 0, &along(kA), 1, &along(kB)};
    }
    const at::Tensor weight = take(path + ".weight", splits, replicated);
    at::Tensor bias;
    if (has(path + ".bias")) bias = take(path + ".bias", {{0, q(), c_[out_axis], interleaved, 0}}, allBut(out_axis));
    replaceLinear(model_, path, std::make_shared<GridLinear>(weight, bias, spec, std::move(shared)));
  }

  // The residual stream's features are chunk c in every mode.
  void norm(const std::string& path) {
    const at::Tensor weight = take(path + ".weight", {{0, q(), c_[kC], 1, 0}}, allBut(kC));
    const at::Tensor bias = has(path + ".bias") ? take(path + ".bias", {{0, q(), c_[kC], 1, 0}}, allBut(kC)) : at::Tensor();
    replaceNorm(model_, path, std::make_shared<GridNorm>(weight, bias, model_.config().norm_eps, model_.config().d_model, along(kC)));
  }

  std::vector<GridSplit> tableSplits() const {
    if (!threeD()) return {{0, q(), c_[kC], 1, 0}, {1, q(), c_[kB], 1, 0}};
    return {{0, q() * q(), c_[kB] * q() + c_[kA], 1, 0}, {1, q(), c_[kC], 1, 0}};
  }
  std::vector<int> tableReplicated() const { return threeD() ? std::vector<int>{} : std::vector<int>{kA}; }

  // The head's matmul: 2d / 2.5d a linear; 3d an "A" linear whose weight blocks are the table's.
  GridMatmul headSpec() const {
    if (!threeD()) return {&along(kC), -1, &along(kB), 1, nullptr};
    return {&along(kB), 0, &along(kA), 0, &along(kC)};
  }

  void embeddings() {
    const std::int64_t rows = layout.padded_vocab / q();  // rows of the gathered block
    if (has("tok_emb.weight")) {
      GridLookup lookup;
      if (!threeD()) {
        lookup = {grid_.sampleChunks(), c_[kA] * q() + c_[kB], &along(kB), 1, rows * c_[kC], &along(kC), -1};
      } else {
        lookup = {q(), c_[kA], &along(kA), 0, rows * c_[kB], &along(kB), 0};
      }
      model_.replaceTokenEmbedding(
          std::make_shared<GridEmbedding>(take("tok_emb.weight", tableSplits(), tableReplicated()), lookup));
    }
    if (has("pos_emb.weight")) {
      auto& gpt = dynamic_cast<GptModel&>(model_);
      gpt.replacePositionEmbedding(Embedding::ofTable(take("pos_emb.weight", {{1, q(), c_[kC], 1, 0}}, allBut(kC))));
    }
    if (has("lm_head.weight")) {
      replaceLinear(model_, "lm_head",
                    std::make_shared<GridLinear>(take("lm_head.weight", tableSplits(), tableReplicated()), at::Tensor(), headSpec()));
    }
  }

  // Sums every replicated block's gradient parts over its holders.
  void registerGradientSums() {
    for (auto& item : model_.named_parameters()) {
      const auto found = hooks_.find(item.key());
      if (found == hooks_.end()) continue;
      const std::vector<Group*> groups = found->second;
      item.value().register_hook([groups](const at::Tensor& grad) {
        at::Tensor sum = grad.contiguous().clone();
        for (Group* group : groups) group->allReduce(sum);
        return sum;
      });
    }
  }

  GridActivationPlacement activationPlacement(int tp_rank) const {
    return {grid_.sampleChunks(),
            grid_.featureChunks(),
            grid_.residualSampleChunk(tp_rank),
            grid_.residualFeatureChunk(tp_rank),
            grid_.innerSampleChunk(tp_rank),
            grid_.innerFeatureChunk(tp_rank)};
  }

  TensorParallelLayout layout;

 private:
  LanguageModel& model_;
  TensorGrid grid_;
  std::array<int, 3> c_;
  std::array<Group*, 3> along_;
  std::map<std::string, at::Tensor> full_;
  std::map<std::string, std::vector<Group*>> hooks_;
};

void checkGridSplittable(const ModelConfig& config, const TensorGrid& grid) {
  const std::string mode = "parallel.tp_mode " + std::string(tensorParallelModeName(grid.mode));
  const int q = grid.q;
  if (config.n_head % q != 0) {
    throw std::invalid_argument("model.n_head: " + str(config.n_head) + " heads cannot be split into the " + str(q) +
                                " head blocks of " + mode);
  }
  if (config.kvHeads() % q != 0) {
    throw std::invalid_argument("model.n_kv_head: " + str(config.kvHeads()) + " key/value heads cannot be split into the " +
                                str(q) + " head blocks of " + mode);
  }
  const int input_split = grid.inputFeatureSplit();
  if (config.d_model % input_split != 0) {
    throw std::invalid_argument("model.d_model: " + str(config.d_model) + " is not divisible by " + str(input_split) +
                                ", the input-feature blocks of " + mode);
  }
  if (config.ffnHidden() % input_split != 0) {
    throw std::invalid_argument("model.d_ff: the feed-forward width " + str(config.ffnHidden()) + " is not divisible by " +
                                str(input_split) + ", the input-feature blocks of " + mode);
  }
}

}  // namespace

TensorParallelLayout gridParallelize(LanguageModel& model, const Plan& plan, ProcessWorld& world) {
  const TensorGrid grid = TensorGrid::fromPlan(plan.tp, plan.tp_mode, plan.tp_depth);
  const ModelConfig& config = model.config();
  checkGridSplittable(config, grid);
  if (plan.sequence_parallel) {
    throw std::invalid_argument("parallel.sequence_parallel: Megatron sequence parallelism needs parallel.tp_mode 1d");
  }
  Group& tp = world.group(Axis::tp);
  const int tp_rank = tp.rank();
  // The sub-axis groups, created in axis order on every rank (each a rendezvous of its members).
  std::array<Group*, 3> along{};
  for (int axis = 0; axis < 3; ++axis) {
    std::vector<int> ranks;
    for (int member : grid.ranksAlong(tp_rank, axis)) ranks.push_back(tp.ranks().at(member));
    along[axis] = &world.subgroup(grid.axisLabel(axis), ranks);
  }
  GridSharder sharder(model, grid, tp_rank, along);
  for (int i = 0; i < config.n_layer; ++i) {
    if (!model.holdsBlock(i)) continue;
    const std::string block = "blocks." + str(i);
    if (config.arch == Arch::gpt) {
      sharder.norm(block + ".ln1");
      sharder.linear(block + ".attn.qkv", /*first_of_pair=*/true, /*interleaved=*/3);
      sharder.linear(block + ".attn.proj", false);
      sharder.norm(block + ".ln2");
      sharder.linear(block + ".mlp.fc", true);
      sharder.linear(block + ".mlp.proj", false);
      continue;
    }
    sharder.norm(block + ".attn_norm");
    const auto attention_input = std::make_shared<SharedGridInput>();
    for (const char* name : {".attn.q", ".attn.k", ".attn.v"}) sharder.linear(block + name, true, 1, attention_input);
    sharder.linear(block + ".attn.o", false);
    sharder.norm(block + ".mlp_norm");
    const auto mlp_input = std::make_shared<SharedGridInput>();
    sharder.linear(block + ".mlp.gate", true, 1, mlp_input);
    sharder.linear(block + ".mlp.up", true, 1, mlp_input);
    sharder.linear(block + ".mlp.down", false);
  }
  // A pipeline stage holds the final norm only if it is the last one.
  const std::string final_norm = config.arch == Arch::gpt ? "ln_f" : "norm_f";
  if (sharder.has(final_norm + ".weight")) sharder.norm(final_norm);
  sharder.embeddings();
  sharder.registerGradientSums();
  Group& loss_group = grid.mode == TensorParallelMode::three_d ? sharder.along(kB) : sharder.along(kC);
  model.setGridTensorParallel(std::make_shared<GridHooks>(sharder.activationPlacement(tp_rank), sharder.headSpec(), loss_group,
                                                          tp, sharder.layout.padded_vocab, config.vocab_size));
  TensorParallelLayout layout = sharder.layout;
  for (const auto& item : model.named_parameters()) {
    if (!layout.placements.count(item.key())) {
      throw std::logic_error("grid parallelize: parameter '" + item.key() + "' was not placed on the grid");
    }
  }
  return layout;
}

at::Tensor gatherGridParameter(const at::Tensor& local, const ParameterPlacement& placement, Group& tp_group) {
  // Every rank's block and its block indices; the blocks all have one shape.
  std::vector<std::int64_t> indices;
  for (const GridSplit& split : placement.grid) indices.push_back(split.index);
  const std::int64_t splits = static_cast<std::int64_t>(indices.size());
  const at::Tensor all_indices = tp_group.allGather(at::tensor(indices, at::kLong), 0);
  const at::Tensor blocks = tp_group.allGather(local.detach().contiguous().unsqueeze(0), 0);
  std::vector<std::int64_t> padded = local.sizes().vec();
  for (const GridSplit& split : placement.grid) padded[split.dim] *= split.parts;
  at::Tensor full = at::zeros(padded, local.options().requires_grad(false));
  for (int r = 0; r < tp_group.size(); ++r) {
    at::Tensor source = blocks[r];
    at::Tensor target = full;
    int interleaved = 1;
    std::int64_t row_block = 0, row_stride = 0;
    for (std::int64_t k = 0; k < splits; ++k) {
      const GridSplit& split = placement.grid[k];
      const std::int64_t index = all_indices[r * splits + k].item<std::int64_t>();
      const std::int64_t size = local.size(split.dim) / split.interleaved;
      if (split.interleaved > 1) {  // dim 0, handled per sub-block below
        interleaved = split.interleaved;
        row_block = size;
        row_stride = size * split.parts;
        target = target.narrow(0, index * size, target.size(0) - index * size);
        continue;
      }
      target = target.narrow(split.dim, index * size, size);
    }
    for (int b = 0; b < interleaved; ++b) {
      if (interleaved == 1) {
        target.copy_(source);
      } else {
        target.narrow(0, b * row_stride, row_block).copy_(source.narrow(0, b * row_block, row_block));
      }
    }
  }
  for (const GridSplit& split : placement.grid) full = full.narrow(split.dim, 0, split.full_size);
  return full.contiguous();
}

}  // namespace behemoth
