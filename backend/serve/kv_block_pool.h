// The KV cache's allocator: a fixed pool of equally sized blocks handed out by id. A sequence owns a
// block table (its block ids in order, token t in block t / block_tokens); the blocks go back to
// the pool when the sequence ends, so memory never fragments and a finished request frees at once.
#pragma once

#include <optional>
#include <vector>

namespace behemoth {

class KvBlockPool {
 public:
  explicit KvBlockPool(int blocks);

  int capacity() const { return static_cast<int>(in_use_.size()); }
  int inUse() const { return capacity() - available(); }
  int available() const { return static_cast<int>(free_.size()); }

  // `count` block ids, or nothing (and no change) when fewer are free.
  std::optional<std::vector<int>> allocate(int count);
  // Returns blocks to the pool. Throws std::logic_error for an id that is not in use: a double
  // free would hand one block to two sequences.
  void release(const std::vector<int>& blocks);

 private:
  std::vector<int> free_;  // a stack: the most recently freed block is reused first
  std::vector<bool> in_use_;
};

}  // namespace behemoth
