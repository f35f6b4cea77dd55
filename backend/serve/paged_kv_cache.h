// The keys and values of every cached token, in the blocks of the pool (kv_block_pool.h). Each
// layer holds one key and one value tensor of [blocks * block_tokens, kv_heads, head_dim]: row
// `slot` is token t of a sequence whose block table maps t / block_tokens to the slot's block, so a
// sequence's cache is a gather of its slots. Under tensor parallelism a rank holds its kv heads only.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace behemoth {

class PagedKvCache {
 public:
  PagedKvCache(int layers, int blocks, int block_tokens);

  int blockTokens() const { return block_tokens_; }
  int blocks() const { return blocks_; }

  // Writes k and v [kv_heads, N, head_dim] of N tokens into `slots` (int64 [N]). A layer's storage
  // is made on its first write, in k's shape and dtype.
  void store(int layer, const at::Tensor& slots, const at::Tensor& k, const at::Tensor& v);
  // The keys and values at `slots` (int64 [L]), token-major: [L, kv_heads, head_dim] each.
  std::pair<at::Tensor, at::Tensor> load(int layer, const at::Tensor& slots) const;
  // A layer's whole storage, [blocks * block_tokens, kv_heads, head_dim] each (read in place by
  // decodeAttention). Throws if the layer was never written.
  const at::Tensor& keys(int layer) const;
  const at::Tensor& values(int layer) const;
  // Bytes of the layers made so far.
  std::int64_t bytes() const;

 private:
  int blocks_;
  int block_tokens_;
  std::vector<at::Tensor> keys_;
  std::vector<at::Tensor> values_;
};

// Appends to `slots` the cache slots of a sequence's tokens [first, first + count) under `blocks`.
void appendSlots(const std::vector<int>& blocks, int block_tokens, std::int64_t first, std::int64_t count,
                 std::vector<std::int64_t>& slots);

}  // namespace behemoth
