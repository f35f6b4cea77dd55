#include "backend/parallelize/parallelize.h"

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/model/language_model.h"
#include "backend/parallelize/grid_parallelize.h"
#include "backend/parallelize/tensor_parallel_layers.h"
#include "parallel/world.h"

namespace behemoth {
namespace {

std::string str(std::int64_t value) { return std::to_string(value); }

// Slices this rank's part out of the full (seed-initialized) parameters of the model.
class Sharder {
 public:
  Sharder(LanguageModel& model, Group& tp, bool sequence_parallel)
      : model_(model), t_(tp.size()), r_(tp.rank()), context_{&tp, sequence_parallel} {
    for (const auto& item : model.named_parameters()) full_[item.key()] = item.value().detach();
  }

  at::Tensor full(const std::string& name) const {
    const auto found = full_.find(name);
    if (found == full_.end()) throw std::logic_error("parallelize: the model has no parameter '" + name + "'");
    return found->second;
  }
  bool has(const std::string& name) const { return full_.count(name) > 0; }

  // Rank r's slice of dim 0 (or dim 1), cut into `interleaved` equal blocks first and the rank's
  // slice of each block concatenated (GPT's qkv: [q | k | v] -> [q_r | k_r | v_r]).
  at::Tensor slice(const at::Tensor& tensor, int dim, int interleaved, const std::string& what) const {
    std::vector<at::Tensor> parts;
    for (const at::Tensor& block : tensor.chunk(interleaved, dim)) {
      if (block.size(dim) % t_ != 0) {
        throw std::invalid_argument(what + ": " + str(block.size(dim)) + " cannot be split over parallel.tp (" +
                                    str(t_) + ")");
      }
      const std::int64_t size = block.size(dim) / t_;
      parts.push_back(block.narrow(dim, size * r_, size));
    }
    return at::cat(parts, dim).clone().requires_grad_(true);
  }

  void shard(const std::string& name, int dim, int interleaved) {
    layout.placements[name] = ParameterPlacement{true, dim, interleaved, full(name).size(dim), 1, false};
  }

  void column(const std::string& path, int interleaved = 1, std::shared_ptr<SharedColumnInput> shared_input = nullptr) {
    const std::string w = path + ".weight";
    const std::string b = path + ".bias";
    at::Tensor bias = has(b) ? slice(full(b), 0, interleaved, path + " output features") : at::Tensor();
    auto layer = std::make_shared<ColumnParallelLinear>(slice(full(w), 0, interleaved, path + " output features"),
                                                        bias, context_, /*gather_output=*/false, std::move(shared_input));
    replaceLinear(model_, path, layer);
    shard(w, 0, interleaved);
    if (has(b)) shard(b, 0, interleaved);
  }

  void row(const std::string& path) {
    const std::string w = path + ".weight";
    const std::string b = path + ".bias";
    at::Tensor bias = has(b) ? full(b).clone().requires_grad_(true) : at::Tensor();
    replaceLinear(model_, path,
                  std::make_shared<RowParallelLinear>(slice(full(w), 1, 1, path + " input features"), bias, context_));
    shard(w, 1, 1);
  }

  // Grouped-query attention with fewer kv heads than ranks: `replicas` consecutive ranks hold kv
  // head r / replicas, each projecting it for its own query heads (a partial gradient).
  void replicatedHeads(const std::string& path, std::int64_t head_dim, int replicas,
                       std::shared_ptr<SharedColumnInput> shared_input) {
    const std::string w = path + ".weight";
    const std::int64_t head = r_ / replicas;
    at::Tensor rows = full(w).narrow(0, head * head_dim, head_dim).clone().requires_grad_(true);
    replaceLinear(model_, path, std::make_shared<ColumnParallelLinear>(rows, at::Tensor(), context_, false, std::move(shared_input)));
    layout.placements[w] = ParameterPlacement{true, 0, 1, full(w).size(0), replicas, /*partial_gradient=*/true};
  }

  // The vocabulary (dim 0) padded with zero rows to a multiple of tp, then split evenly.
  at::Tensor vocabularyShard(const std::string& name) const {
    const at::Tensor table = full(name);
    const std::int64_t padding = layout.padded_vocab - table.size(0);
    const at::Tensor padded = padding == 0 ? table : at::cat({table, at::zeros({padding, table.size(1)}, table.options())});
    const std::int64_t rows = layout.padded_vocab / t_;
    return padded.narrow(0, rows * r_, rows).clone().requires_grad_(true);
  }

  void vocabulary() {
    const std::int64_t rows = layout.padded_vocab / t_;
    if (has("tok_emb.weight")) {  // not on a middle pipeline stage
      model_.replaceTokenEmbedding(
          std::make_shared<VocabParallelEmbedding>(vocabularyShard("tok_emb.weight"), rows * r_, context_));
      shard("tok_emb.weight", 0, 1);
    }
    if (has("lm_head.weight")) {
      replaceLinear(model_, "lm_head",
                    std::make_shared<ColumnParallelLinear>(vocabularyShard("lm_head.weight"), at::Tensor(), context_,
                                                           /*gather_output=*/false));
      shard("lm_head.weight", 0, 1);
    }
  }

  TensorParallelLayout layout;

 private:
  LanguageModel& model_;
  int t_;
  int r_;
  TensorParallelContext context_;
  std::map<std::string, at::Tensor> full_;
};

// Sums a partial gradient over the ranks holding the same tensor: all of tp for a replicated
// parameter; for a shard held by `replicas` consecutive ranks, one all-reduce over tp of a buffer
// with a slot per distinct shard (each rank fills its own, the others stay zero).
at::Tensor sumOverHolders(const at::Tensor& grad, Group& tp, int replicas) {
  if (replicas == tp.size()) {
    at::Tensor sum = grad.contiguous().clone();
    tp.allReduce(sum);
    return sum;
  }
  const std::int64_t rows = grad.size(0);
  const std::int64_t slot = tp.rank() / replicas;
  std::vector<std::int64_t> sizes = grad.sizes().vec();
  sizes[0] = rows * (tp.size() / replicas);
  at::Tensor slots = at::zeros(sizes, grad.options());
  slots.narrow(0, slot * rows, rows).copy_(grad);
  tp.allReduce(slots);
  return slots.narrow(0, slot * rows, rows).clone();
}

void checkSplittable(const ModelConfig& config, int t) {
  if (config.n_head % t != 0) {
    throw std::invalid_argument("model.n_head: " + str(config.n_head) + " heads cannot be split over parallel.tp (" +
                                str(t) + ")");
  }
  const int kv = config.kvHeads();
  if (kv % t != 0 && t % kv != 0) {
    throw std::invalid_argument("model.n_kv_head: " + str(kv) +
                                " key/value heads cannot be split over or replicated across parallel.tp (" + str(t) + ")");
  }
  if (config.ffnHidden() % t != 0) {
    throw std::invalid_argument("model.d_ff: the feed-forward width " + str(config.ffnHidden()) +
                                " is not divisible by parallel.tp (" + str(t) + ")");
  }
}

}  // namespace

const ParameterPlacement& TensorParallelLayout::placement(const std::string& name) const {
  const auto found = placements.find(name);
  if (found == placements.end()) throw std::invalid_argument("tensor-parallel layout: no parameter '" + name + "'");
  return found->second;
}

bool TensorParallelLayout::countsInNorm(const std::string& name, int tp_rank) const {
  const ParameterPlacement& place = placement(name);
  if (!place.grid.empty()) return place.copy_index == 0;
  return place.sharded ? tp_rank % place.replicas == 0 : tp_rank == 0;
}

TensorParallelLayout parallelize(LanguageModel& model, const Plan& plan, ProcessWorld& world) {
  // The sp axis is set before either tp layout: a grid's attention runs over it too.
  if (plan.sp > 1) model.setSequenceParallel({&world.group(Axis::sp), sequenceSplitOf(plan.sp_mode)});
  if (plan.tp > 1 && plan.tp_mode != "1d") return gridParallelize(model, plan, world);
  return parallelize(model, world.group(Axis::tp), plan.sequence_parallel);
}

TensorParallelLayout parallelize(LanguageModel& model, Group& tp_group, bool sequence_parallel) {
  const ModelConfig& config = model.config();
  const int t = tp_group.size();
  Sharder sharder(model, tp_group, sequence_parallel && t > 1);
  TensorParallelLayout& layout = sharder.layout;
  layout.tp = t;
  layout.sequence_parallel = sequence_parallel && t > 1;
  layout.padded_vocab = paddedToMultiple(config.vocab_size, t);
  if (t > 1) {
    checkSplittable(config, t);
    for (int i = 0; i < config.n_layer; ++i) {
      if (!model.holdsBlock(i)) continue;  // another pipeline stage's block
      const std::string block = "blocks." + str(i);
      if (config.arch == Arch::gpt) {
        sharder.column(block + ".attn.qkv", /*interleaved=*/3);
        sharder.row(block + ".attn.proj");
        sharder.column(block + ".mlp.fc");
        sharder.row(block + ".mlp.proj");
        continue;
      }
      // q, k and v read one input, as do gate and up: under SP one gather serves each group of them.
      const auto attention_input = std::make_shared<SharedColumnInput>();
      sharder.column(block + ".attn.q", 1, attention_input);
      if (config.kvHeads() % t == 0) {
        sharder.column(block + ".attn.k", 1, attention_input);
        sharder.column(block + ".attn.v", 1, attention_input);
      } else {
        // t / kv ranks share each kv head: rank r's query heads read kv head r / (t / kv).
        sharder.replicatedHeads(block + ".attn.k", config.headDim(), t / config.kvHeads(), attention_input);
        sharder.replicatedHeads(block + ".attn.v", config.headDim(), t / config.kvHeads(), attention_input);
      }
      sharder.row(block + ".attn.o");
      const auto mlp_input = std::make_shared<SharedColumnInput>();
      sharder.column(block + ".mlp.gate", 1, mlp_input);
      sharder.column(block + ".mlp.up", 1, mlp_input);
      sharder.row(block + ".mlp.down");
    }
    sharder.vocabulary();
    model.setTensorParallel(TensorParallelContext{&tp_group, layout.sequence_parallel}, layout.padded_vocab);
  }
  // Everything not sharded is replicated; under SP each rank's gradient of it is partial.
  for (auto& item : model.named_parameters()) {
    auto [entry, inserted] = layout.placements.emplace(item.key(), ParameterPlacement{});
    if (inserted) entry->second.partial_gradient = layout.sequence_parallel;
    if (!entry->second.partial_gradient) continue;
    Group* group = &tp_group;
    const int replicas = entry->second.sharded ? entry->second.replicas : group->size();
    item.value().register_hook([group, replicas](const at::Tensor& grad) { return sumOverHolders(grad, *group, replicas); });
  }
  return layout;
}

at::Tensor gatherFullParameter(const at::Tensor& local, const ParameterPlacement& placement, Group& tp_group) {
  if (!placement.grid.empty()) return gatherGridParameter(local, placement, tp_group);
  if (!placement.sharded || tp_group.size() == 1) return local;
  const at::Tensor gathered = tp_group.allGather(local.contiguous(), placement.dim);
  at::Tensor ordered = gathered;
  if (placement.interleaved > 1) {
    // [r0: b0 b1 b2 | r1: b0 b1 b2] -> [b0: r0 r1 | b1: r0 r1 | b2: r0 r1]
    std::vector<std::vector<at::Tensor>> by_rank;
    for (const at::Tensor& piece : gathered.chunk(tp_group.size(), placement.dim)) {
      by_rank.push_back(piece.chunk(placement.interleaved, placement.dim));
    }
    std::vector<at::Tensor> parts;
    for (int block = 0; block < placement.interleaved; ++block) {
      for (const auto& blocks : by_rank) parts.push_back(blocks[block]);
    }
    ordered = at::cat(parts, placement.dim);
  }
  if (placement.replicas > 1) {
    // Ranks holding the same shard gathered it once each: keep the first copy of every shard.
    std::vector<at::Tensor> distinct;
    const auto pieces = ordered.chunk(tp_group.size(), placement.dim);
    for (int r = 0; r < tp_group.size(); r += placement.replicas) distinct.push_back(pieces[r]);
    ordered = at::cat(distinct, placement.dim);
  }
  return ordered.narrow(placement.dim, 0, placement.full_size).contiguous();
}

}  // namespace behemoth
