#include "backend/serve/paged_kv_cache.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

namespace behemoth {

PagedKvCache::PagedKvCache(int layers, int blocks, int block_tokens)
    : blocks_(blocks), block_tokens_(block_tokens), keys_(static_cast<std::size_t>(layers)),
      values_(static_cast<std::size_t>(layers)) {}

void PagedKvCache::store(int layer, const at::Tensor& slots, const at::Tensor& k, const at::Tensor& v) {
  at::Tensor& keys = keys_.at(static_cast<std::size_t>(layer));
  at::Tensor& values = values_.at(static_cast<std::size_t>(layer));
  if (!keys.defined()) {
    const std::int64_t rows = std::int64_t{blocks_} * block_tokens_;
    keys = at::zeros({rows, k.size(0), k.size(2)}, k.options());
    values = at::zeros({rows, v.size(0), v.size(2)}, v.options());
  }
  keys.index_copy_(0, slots, k.transpose(0, 1));
  values.index_copy_(0, slots, v.transpose(0, 1));
}

const at::Tensor& PagedKvCache::keys(int layer) const {
  const at::Tensor& keys = keys_.at(static_cast<std::size_t>(layer));
  if (!keys.defined()) throw std::logic_error("KV cache: layer " + std::to_string(layer) + " read before any write");
  return keys;
}

const at::Tensor& PagedKvCache::values(int layer) const {
  keys(layer);  // the same check
  return values_.at(static_cast<std::size_t>(layer));
}

std::pair<at::Tensor, at::Tensor> PagedKvCache::load(int layer, const at::Tensor& slots) const {
  return {keys(layer).index_select(0, slots), values(layer).index_select(0, slots)};
}

std::int64_t PagedKvCache::bytes() const {
  std::int64_t total = 0;
  for (std::size_t layer = 0; layer < keys_.size(); ++layer) {
    if (!keys_[layer].defined()) continue;
    total += keys_[layer].numel() * keys_[layer].element_size() + values_[layer].numel() * values_[layer].element_size();
  }
  return total;
}

void appendSlots(const std::vector<int>& blocks, int block_tokens, std::int64_t first, std::int64_t count,
                 std::vector<std::int64_t>& slots) {
  if (first + count > static_cast<std::int64_t>(blocks.size()) * block_tokens) {
    throw std::logic_error("KV cache: tokens up to " + std::to_string(first + count) + " exceed the block table's " +
                           std::to_string(blocks.size()) + " blocks");
  }
  for (std::int64_t token = first; token < first + count; ++token) {
    slots.push_back(std::int64_t{blocks[static_cast<std::size_t>(token / block_tokens)]} * block_tokens + token % block_tokens);
  }
}

}  // namespace behemoth
