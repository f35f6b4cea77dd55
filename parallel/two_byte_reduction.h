// The local half of a 2-byte floating reduction (bf16, fp16) on gloo. gloo has no bf16 arithmetic
// and sums fp16 in fp16, once per ring hop; the engine instead moves the 2-byte values themselves
// and reduces them where they land:
//
//   reduce-scatter: an equal-split all_to_all of the 2-byte shards, so every rank receives each
//                   rank's copy of its own shard, then reduceShardPieces below;
//   all-reduce:     that reduce-scatter on the tensor zero-padded to a multiple of n elements,
//                   followed by an all_gather of the reduced 2-byte shards.
//
// Every element is accumulated in fp32 in rank order 0, 1, ..., n-1, averaged (ReduceOp::Avg) in
// fp32 and rounded to the 2-byte dtype once, so the result is deterministic and, as each shard is
// reduced by one rank and then gathered, identical on every rank. The bytes on the wire are the
// 2-byte values plus any padding (parallel/comm_counter.h counts exactly those).
#pragma once

#include <ATen/core/Tensor.h>

#include "parallel/group.h"

namespace behemoth {

// bf16 or fp16 on the CPU: the tensors Group reduces by exchange on gloo.
bool reducesByExchange(const at::Tensor& tensor);

// `pieces`: [n, ...] holding rank r's contribution at index r, in a 2-byte floating dtype. Returns
// the reduced [...] in the same dtype (fp32 accumulation in rank order, one rounding).
at::Tensor reduceShardPieces(const at::Tensor& pieces, ReduceOp op);

}  // namespace behemoth
