// The attention of sequences that each decode one token, read straight from the paged KV cache:
// for each sequence and query head, scores against the keys at the sequence's slots, a softmax, and
// the weighted sum of the values at the same slots. Every key and value is read once where it lies;
// gathering them into a padded batch first (then multiplying) moved each one three more times,
// which made that copy the largest cost of a decode step on a CPU.
#pragma once

#include <ATen/Tensor.h>

namespace behemoth {

// q [R, H, D]: one query per sequence. keys, values [slots, Hkv, D]: a layer's cache. slots int64
// [R, longest]: row r's first lengths[r] entries are its tokens' slots. H must be a multiple of
// Hkv (query head h reads kv head h / (H / Hkv)). Returns [R, H, D] in q's dtype; scores, softmax
// and sums are float32.
at::Tensor decodeAttention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values, const at::Tensor& slots,
                           const at::Tensor& lengths);

}  // namespace behemoth
