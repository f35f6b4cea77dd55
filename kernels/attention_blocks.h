// Causal attention one (query block, key block) pair at a time, with the online softmax of flash
// attention: a running maximum and sum per query row, so the scores of a whole sequence are never
// held. Blockwise attention on one rank (blockwise_attention.h) and ring attention across ranks
// (parallel/sequence_parallel/ring_attention.h) are loops over these pieces.
//
// Layouts. Grouped-query attention without repeating keys and values: a query block is
// [B, Hkv, G, L, D] (G query heads read each key/value head; query head h = kv * G + g, the Hugging
// Face repeat_kv order) and a key/value block is [B, Hkv, L, D]. Positions are global: a block
// covers start .. start + L - 1, and query position p sees key positions <= p.
//
// Precision: the matmuls run in the inputs' dtype; maxima, sums, the running output and every
// gradient accumulate in float32.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>

namespace behemoth {

// Dropout of the attention probabilities, keyed on coordinates (so a block draws exactly its part
// of the mask the whole [T, T] matrix would get).
struct AttentionBlockDropout {
  double p = 0.0;
  // The dropped elements (bool) of query positions [q_start, q_start + q_length) over key positions
  // [k_start, k_start + k_length) for this rank's query heads: [batch, Hkv * G, q_length, k_length].
  std::function<at::Tensor(std::int64_t batch, std::int64_t q_start, std::int64_t q_length, std::int64_t k_start,
                           std::int64_t k_length)>
      dropped;
  bool active() const { return p > 0.0; }
};

struct QueryBlock {
  at::Tensor q;  // [B, Hkv, G, L, D]
  std::int64_t start = 0;
  std::int64_t length() const { return q.size(3); }
};

struct KeyValueBlock {
  at::Tensor k;  // [B, Hkv, L, D]
  at::Tensor v;  // [B, Hkv, L, D]
  std::int64_t start = 0;
  std::int64_t length() const { return k.size(2); }
};

enum class BlockVisibility { none, all, partial };
// Whether the queries see none, all or part of the keys under the causal mask.
BlockVisibility blockVisibility(std::int64_t q_start, std::int64_t q_length, std::int64_t k_start, std::int64_t k_length);

// The running softmax of one query block over the key blocks added so far.
class OnlineSoftmax {
 public:
  OnlineSoftmax(QueryBlock block, double scale);
  // Folds in one key/value block (a block it cannot see changes nothing).
  void add(const KeyValueBlock& kv, const AttentionBlockDropout& dropout);
  // softmax(q k^T * scale) v over every key added: [B, Hkv, G, L, D] float32.
  at::Tensor output() const;
  // log sum_k exp(score): [B, Hkv, G, L, 1] float32 (what backward recomputes probabilities from).
  at::Tensor logSumExp() const;

 private:
  QueryBlock block_;
  at::Tensor rows_;  // the block's queries as [B, Hkv, G * L, D] for one matmul per key block
  double scale_;
  at::Tensor max_;     // [B, Hkv, G, L, 1]
  at::Tensor sum_;     // [B, Hkv, G, L, 1]
  at::Tensor output_;  // unnormalised: sum_k exp(score - max) v
};

// What backward needs of one query block: the gradient of its output, the forward's log-sum-exp
// and delta = rowsum(d_out * out), each float32 shaped like the block ([.., L, D] / [.., L, 1]).
struct QueryBlockGradientInput {
  at::Tensor d_out;
  at::Tensor log_sum_exp;
  at::Tensor delta;
};

// Adds one block pair's share of the gradients: d_q [B, Hkv, G, Lq, D], d_k and d_v
// [B, Hkv, Lk, D], all float32 (accumulated in place; the pair's probabilities are recomputed).
void accumulateBlockGradients(const QueryBlock& query, const QueryBlockGradientInput& gradient,
                              const KeyValueBlock& kv, double scale, const AttentionBlockDropout& dropout,
                              at::Tensor& d_q, at::Tensor& d_k, at::Tensor& d_v);

}  // namespace behemoth
