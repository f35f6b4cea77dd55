#include "backend/serve/paged_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/serve/decode_attention.h"

namespace behemoth {

namespace {

at::Tensor longTensor(const std::vector<std::int64_t>& values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

PagedAttention::PagedAttention(const StepBatch& batch, PagedKvCache& cache) : cache_(cache) {
  const int block_tokens = cache.blockTokens();
  std::vector<std::int64_t> positions, new_slots, decode_offsets, decode_lengths;
  std::vector<const SequenceStep*> decoding;
  for (const SequenceStep& step : batch.sequences) {
    const auto count = static_cast<std::int64_t>(step.tokens.size());
    for (std::int64_t i = 0; i < count; ++i) positions.push_back(step.cached + i);
    appendSlots(step.blocks, block_tokens, step.cached, count, new_slots);
    if (count == 1) {
      decoding.push_back(&step);
      decode_offsets.push_back(tokens_);
      decode_lengths.push_back(step.cached + 1);
    } else {
      std::vector<std::int64_t> slots;
      appendSlots(step.blocks, block_tokens, 0, step.cached + count, slots);
      prefills_.push_back({tokens_, count, step.cached, longTensor(slots)});
    }
    tokens_ += count;
  }
  positions_ = longTensor(positions);
  new_slots_ = longTensor(new_slots);
  if (decoding.empty()) return;
  decode_.rows = static_cast<std::int64_t>(decoding.size());
  const std::int64_t longest = *std::max_element(decode_lengths.begin(), decode_lengths.end());
  std::vector<std::int64_t> slots;
  slots.reserve(static_cast<std::size_t>(decode_.rows * longest));
  for (std::size_t r = 0; r < decoding.size(); ++r) {
    appendSlots(decoding[r]->blocks, block_tokens, 0, decode_lengths[r], slots);
    slots.resize(static_cast<std::size_t>((r + 1) * longest), 0);  // never read: past the row's length
  }
  decode_.offsets = longTensor(decode_offsets);
  decode_.slots = longTensor(slots).view({decode_.rows, longest});
  decode_.lengths = longTensor(decode_lengths);
}

at::Tensor PagedAttention::attend(int layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  // q [1, H, N, D]; k and v [1, Hkv, N, D]: the packed row of this step's new tokens.
  cache_.store(layer, new_slots_, k[0], v[0]);
  at::Tensor out = at::empty({q.size(1), tokens_, q.size(3)}, q.options());  // [H, N, D]
  for (const Prefill& prefill : prefills_) out.narrow(1, prefill.offset, prefill.count).copy_(attendPrefill(prefill, layer, q));
  if (decode_.rows > 0) out.index_copy_(1, decode_.offsets, attendDecode(layer, q));
  return out.unsqueeze(0);
}

at::Tensor PagedAttention::attendPrefill(const Prefill& prefill, int layer, const at::Tensor& q) const {
  const auto [key_rows, value_rows] = cache_.load(layer, prefill.slots);  // [L, Hkv, D]
  const at::Tensor keys = key_rows.transpose(0, 1), values = value_rows.transpose(0, 1);
  const std::int64_t heads = q.size(1), kv_heads = keys.size(0), dim = q.size(3), count = prefill.count;
  const std::int64_t groups = heads / kv_heads, length = prefill.cached + count;
  // Query head h reads kv head h / groups: [H, n, D] -> [Hkv, groups * n, D].
  const at::Tensor queries = q[0].narrow(1, prefill.offset, count).reshape({kv_heads, groups * count, dim});
  at::Tensor scores = at::bmm(queries, keys.transpose(1, 2)) * (1.0 / std::sqrt(static_cast<double>(dim)));
  // New token i sits at cache index cached + i and sees keys 0 .. cached + i.
  const at::Tensor query_index = at::arange(prefill.cached, length, scores.options().dtype(at::kLong));
  const at::Tensor key_index = at::arange(length, scores.options().dtype(at::kLong));
  const at::Tensor future = key_index.unsqueeze(0) > query_index.unsqueeze(1);  // [n, L]
  scores = scores.view({kv_heads, groups, count, length}).masked_fill(future, -std::numeric_limits<double>::infinity());
  const at::Tensor attended = at::matmul(at::softmax(scores, -1).view({kv_heads, groups * count, length}), values);
  return attended.view({heads, count, dim});
}

at::Tensor PagedAttention::attendDecode(int layer, const at::Tensor& q) const {
  const at::Tensor queries = q[0].index_select(1, decode_.offsets).transpose(0, 1);  // [R, H, D]
  const at::Tensor attended = decodeAttention(queries, cache_.keys(layer), cache_.values(layer), decode_.slots, decode_.lengths);
  return attended.transpose(0, 1);  // [H, R, D]
}

}  // namespace behemoth
