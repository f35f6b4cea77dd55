// Ring attention over the sp group (Liu et al.; the seeds' "sequence parallelism"): every rank
// keeps its queries and its zigzag shard of keys and values (sequence_shard.h); the key/value
// blocks travel once around the ring, each rank folding each arriving block into its queries'
// online softmax (kernels/attention_blocks.h) while the next block is already on its way. Backward
// sends the key/value blocks around again, and with them the gradients of those keys and values,
// which every rank adds its share to; after the last hop each block's gradient is back at its owner.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

#include "kernels/attention_blocks.h"
#include "parallel/group.h"

namespace behemoth {

struct RingAttentionOptions {
  std::int64_t block = 128;      // query and key block length inside each chunk
  std::int64_t full_length = 0;  // the whole sequence; rank r of the group holds its zigzag shard
  AttentionBlockDropout dropout;
};

// Causal attention of this rank's queries q [B, H, T_local, D] over the whole sequence's keys and
// values, given this rank's k and v [B, Hkv, T_local, D]; every tensor holds the rank's zigzag
// shard (chunks r and 2 sp - 1 - r, concatenated). Returns [B, H, T_local, D], a transposed view of
// a contiguous [B, T_local, H, D]. Every rank of the group must call it (and run its backward)
// in the same order.
at::Tensor ringCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, Group& sp,
                               const RingAttentionOptions& options);

}  // namespace behemoth
