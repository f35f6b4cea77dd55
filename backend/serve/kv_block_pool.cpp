#include "backend/serve/kv_block_pool.h"

#include <stdexcept>
#include <string>

namespace behemoth {

KvBlockPool::KvBlockPool(int blocks) : in_use_(static_cast<std::size_t>(blocks), false) {
  if (blocks < 1) throw std::invalid_argument("serve.kv_blocks: the pool needs at least one block");
  free_.reserve(in_use_.size());
  for (int id = blocks - 1; id >= 0; --id) free_.push_back(id);
}

std::optional<std::vector<int>> KvBlockPool::allocate(int count) {
  if (count < 0 || count > available()) return std::nullopt;
  std::vector<int> blocks(free_.end() - count, free_.end());
  free_.resize(free_.size() - static_cast<std::size_t>(count));
  for (const int id : blocks) in_use_[static_cast<std::size_t>(id)] = true;
  return blocks;
}

void KvBlockPool::release(const std::vector<int>& blocks) {
  for (const int id : blocks) {
    if (id < 0 || id >= capacity() || !in_use_[static_cast<std::size_t>(id)]) {
      throw std::logic_error("KV cache: block " + std::to_string(id) + " released but not in use");
    }
    in_use_[static_cast<std::size_t>(id)] = false;
    free_.push_back(id);
  }
}

}  // namespace behemoth
