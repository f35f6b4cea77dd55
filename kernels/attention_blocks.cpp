#include "kernels/attention_blocks.h"

#include <ATen/ATen.h>

#include <limits>
#include <utility>

namespace behemoth {
namespace {

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

// [B, Hkv, G, L, D] -> [B, Hkv, G * L, D]: one matmul serves every query head of a key/value head.
at::Tensor queryRows(const at::Tensor& q) {
  return q.reshape({q.size(0), q.size(1), q.size(2) * q.size(3), q.size(4)});
}

// true where key position > query position: [Lq, Lk].
at::Tensor futureMask(std::int64_t q_start, std::int64_t q_length, std::int64_t k_start, std::int64_t k_length,
                      const at::Device& device) {
  const auto options = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor queries = at::arange(q_start, q_start + q_length, options).unsqueeze(1);
  const at::Tensor keys = at::arange(k_start, k_start + k_length, options).unsqueeze(0);
  return keys > queries;
}

// scale * q k^T of the pair as float32 [B, Hkv, G, Lq, Lk], future keys at -inf.
at::Tensor blockScores(const at::Tensor& rows, const QueryBlock& query, const KeyValueBlock& kv, double scale,
                       BlockVisibility visibility) {
  const at::Tensor q = query.q;
  at::Tensor scores = at::matmul(rows, kv.k.transpose(-2, -1))
                          .view({q.size(0), q.size(1), q.size(2), q.size(3), kv.length()})
                          .to(at::kFloat)
                          .mul_(scale);
  if (visibility == BlockVisibility::partial) {
    scores.masked_fill_(futureMask(query.start, query.length(), kv.start, kv.length(), q.device()), kMinusInfinity);
  }
  return scores;
}

// The kept-and-rescaled factor of the pair's probabilities under dropout: 0 or 1 / (1 - p),
// float32 [B, Hkv, G, Lq, Lk].
at::Tensor keepFactor(const QueryBlock& query, const KeyValueBlock& kv, const AttentionBlockDropout& dropout) {
  const at::Tensor q = query.q;
  const at::Tensor dropped = dropout.dropped(q.size(0), query.start, query.length(), kv.start, kv.length())
                                 .to(q.device())
                                 .view({q.size(0), q.size(1), q.size(2), q.size(3), kv.length()});
  return at::where(dropped, at::zeros({}, q.options().dtype(at::kFloat)),
                   at::full({}, 1.0 / (1.0 - dropout.p), q.options().dtype(at::kFloat)));
}

// [B, Hkv, G, Lq, Lk] probabilities times v [B, Hkv, Lk, D] -> [B, Hkv, G, Lq, D] float32.
at::Tensor timesValues(const at::Tensor& probabilities, const at::Tensor& v) {
  const auto sizes = probabilities.sizes();
  const at::Tensor rows = probabilities.reshape({sizes[0], sizes[1], sizes[2] * sizes[3], sizes[4]}).to(v.scalar_type());
  return at::matmul(rows, v).view({sizes[0], sizes[1], sizes[2], sizes[3], v.size(3)}).to(at::kFloat);
}

}  // namespace

BlockVisibility blockVisibility(std::int64_t q_start, std::int64_t q_length, std::int64_t k_start, std::int64_t k_length) {
  if (k_start > q_start + q_length - 1) return BlockVisibility::none;  // every key after every query
  if (k_start + k_length - 1 <= q_start) return BlockVisibility::all;  // every key before every query
  return BlockVisibility::partial;
}

OnlineSoftmax::OnlineSoftmax(QueryBlock block, double scale)
    : block_(std::move(block)), rows_(queryRows(block_.q)), scale_(scale) {
  const at::Tensor& q = block_.q;
  const auto stats = q.options().dtype(at::kFloat);
  max_ = at::full({q.size(0), q.size(1), q.size(2), q.size(3), 1}, kMinusInfinity, stats);
  sum_ = at::zeros({q.size(0), q.size(1), q.size(2), q.size(3), 1}, stats);
  output_ = at::zeros(q.sizes(), stats);
}

void OnlineSoftmax::add(const KeyValueBlock& kv, const AttentionBlockDropout& dropout) {
  const BlockVisibility visibility = blockVisibility(block_.start, block_.length(), kv.start, kv.length());
  if (visibility == BlockVisibility::none) return;
  const at::Tensor scores = blockScores(rows_, block_, kv, scale_, visibility);
  const at::Tensor new_max = at::maximum(max_, std::get<0>(scores.max(-1, /*keepdim=*/true)));
  // A row that has seen no key yet keeps max -inf; exponentiate against 0 there, not -inf - -inf.
  const at::Tensor safe_max = at::where(at::isinf(new_max), at::zeros_like(new_max), new_max);
  const at::Tensor weights = at::exp(scores - safe_max);
  const at::Tensor rescale = at::exp(max_ - safe_max);
  sum_ = sum_ * rescale + weights.sum(-1, /*keepdim=*/true);
  // Dropout drops normalised probabilities; the normaliser (sum_) counts every weight.
  const at::Tensor kept = dropout.active() ? weights * keepFactor(block_, kv, dropout) : weights;
  output_ = output_ * rescale + timesValues(kept, kv.v);
  max_ = new_max;
}

at::Tensor OnlineSoftmax::output() const { return output_ / sum_; }

at::Tensor OnlineSoftmax::logSumExp() const { return max_ + at::log(sum_); }

void accumulateBlockGradients(const QueryBlock& query, const QueryBlockGradientInput& gradient,
                              const KeyValueBlock& kv, double scale, const AttentionBlockDropout& dropout,
                              at::Tensor& d_q, at::Tensor& d_k, at::Tensor& d_v) {
  const BlockVisibility visibility = blockVisibility(query.start, query.length(), kv.start, kv.length());
  if (visibility == BlockVisibility::none) return;
  const at::Tensor& q = query.q;
  const std::int64_t batch = q.size(0), kv_heads = q.size(1), groups = q.size(2), q_length = q.size(3);
  const std::int64_t k_length = kv.length(), dim = q.size(4);
  const at::Tensor rows = queryRows(q);
  const at::Tensor probabilities = at::exp(blockScores(rows, query, kv, scale, visibility) - gradient.log_sum_exp);
  const at::Tensor keep = dropout.active() ? keepFactor(query, kv, dropout) : at::Tensor();
  const at::Tensor kept = keep.defined() ? probabilities * keep : probabilities;
  const auto as_rows = [&](const at::Tensor& x, std::int64_t width) {
    return x.reshape({batch, kv_heads, groups * q_length, width});
  };
  const at::Tensor d_out_rows = as_rows(gradient.d_out, dim);
  // d_v += P_kept^T d_out, summed over the query heads that share the value head.
  d_v.add_(at::matmul(as_rows(kept, k_length).transpose(-2, -1), d_out_rows.to(at::kFloat)));
  at::Tensor d_kept = at::matmul(d_out_rows.to(kv.v.scalar_type()), kv.v.transpose(-2, -1))
                          .to(at::kFloat)
                          .view({batch, kv_heads, groups, q_length, k_length});
  if (keep.defined()) d_kept = d_kept * keep;
  // Softmax backward: dS = P (dP - rowsum(dO * O)); delta holds that row sum.
  const at::Tensor d_scores = probabilities * (d_kept - gradient.delta) * scale;
  const at::Tensor d_score_rows = as_rows(d_scores, k_length);
  d_q.add_(at::matmul(d_score_rows, kv.k.to(at::kFloat)).view({batch, kv_heads, groups, q_length, dim}));
  d_k.add_(at::matmul(d_score_rows.transpose(-2, -1), rows.to(at::kFloat)));
}

}  // namespace behemoth
