#include "backend/model/attention.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backend/model/recompute.h"
#include "kernels/blockwise_attention.h"
#include "parallel/step_profile.h"
#include "parallel/sequence_parallel/ring_attention.h"
#include "parallel/sequence_parallel/ulysses.h"

namespace behemoth {

at::Tensor causalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const ForwardDropout* dropout, int layer) {
  const std::int64_t length = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
  const at::Tensor future = at::ones({length, k.size(2)}, q.options().dtype(at::kBool)).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
  at::Tensor probabilities = at::softmax(scores, -1);
  if (dropout) probabilities = dropout->attention(probabilities, layer);
  return at::matmul(probabilities, v);
}

at::Tensor repeatKvHeads(const at::Tensor& kv, std::int64_t groups) {
  if (groups == 1) return kv;
  const auto batch = kv.size(0), heads = kv.size(1), length = kv.size(2), dim = kv.size(3);
  return kv.unsqueeze(2).expand({batch, heads, groups, length, dim}).reshape({batch, heads * groups, length, dim});
}

namespace {

// Causal attention over the whole sequence on this rank: dense over repeated heads, or blockwise.
at::Tensor localAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ForwardDropout& dropout,
                          int layer, const AttentionSettings& settings) {
  if (settings.kind == AttentionKind::blockwise) {
    BlockwiseAttentionOptions options;
    options.block = settings.block;
    options.dropout = dropout.attentionBlocks(layer, q.size(1));
    return blockwiseCausalAttention(q, k, v, options);
  }
  // The dropout is copied: the region may run again in backward, when the model's dropout context
  // already describes another micro-batch.
  const auto core = [dropout, layer](const std::vector<at::Tensor>& qkv) {
    const std::int64_t groups = qkv[0].size(1) / qkv[1].size(1);
    return std::vector<at::Tensor>{
        causalAttention(qkv[0], repeatKvHeads(qkv[1], groups), repeatKvHeads(qkv[2], groups), &dropout, layer)};
  };
  if (!settings.recompute) return core({q, k, v}).front();
  return recomputeInBackward(core, {q, k, v}).front();
}

}  // namespace

at::Tensor attentionCore(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ForwardDropout& dropout,
                         int layer, const AttentionSettings& settings) {
  const ProfileScope profile(OpKind::attention);
  if (settings.cache) return settings.cache->attend(layer, q, k, v);
  if (!settings.sequence.active()) return localAttention(q, k, v, dropout, layer, settings);
  Group& group = *settings.sequence.group;
  if (settings.sequence.split == SequenceSplit::zigzag) {
    RingAttentionOptions options;
    options.block = settings.block;
    options.full_length = dropout.full_length;
    options.dropout = dropout.attentionBlocks(layer, q.size(1));
    return ringCausalAttention(q, k, v, group, options);
  }
  // Ulysses: the whole sequence for this rank's 1/sp of the (tp rank's) heads.
  ForwardDropout head_shard = dropout;
  head_shard.head_shard = dropout.head_shard * group.size() + group.rank();
  head_shard.head_shards = dropout.head_shards * group.size();
  const at::Tensor attended =
      localAttention(ulyssesToHeads(q, group), ulyssesToHeads(k, group), ulyssesToHeads(v, group), head_shard, layer, settings);
  return ulyssesToSequence(attended, group);
}

RotaryTables rotaryTables(std::int64_t first_position, std::int64_t length, std::int64_t head_dim, double theta,
                          const at::TensorOptions& options) {
  const at::Tensor positions = at::arange(first_position, first_position + length, at::TensorOptions().dtype(at::kLong));
  return rotaryTables(positions, head_dim, theta, options);
}

RotaryTables rotaryTables(const at::Tensor& positions, std::int64_t head_dim, double theta, const at::TensorOptions& options) {
  const auto float_options = at::TensorOptions().dtype(at::kFloat).device(options.device());
  const at::Tensor exponents = at::arange(0, head_dim, 2, float_options) / static_cast<double>(head_dim);
  const at::Tensor inverse_frequency = at::reciprocal(at::pow(theta, exponents));
  const at::Tensor angles = at::outer(positions.to(float_options), inverse_frequency);
  const at::Tensor doubled = at::cat({angles, angles}, -1);
  return {doubled.cos().to(options.dtype()), doubled.sin().to(options.dtype())};
}

at::Tensor applyRotary(const at::Tensor& x, const RotaryTables& tables) {
  const std::int64_t half = x.size(-1) / 2;
  const at::Tensor first = x.narrow(-1, 0, half);
  const at::Tensor second = x.narrow(-1, half, half);
  const at::Tensor rotated = at::cat({-second, first}, -1);
  return x * tables.cos + rotated * tables.sin;
}

}  // namespace behemoth
