// One serving step's attention through the paged KV cache (the model's CachedAttention): the step's
// new tokens, packed into one row, are written into their sequences' blocks, and each sequence's
// queries attend to its own cached keys -- every key before them and themselves -- so sequences
// of different lengths share one forward without padding the row.
//
// Two kinds of sequence: those decoding one token attend together in one call of decodeAttention,
// which reads their keys and values where they lie in the cache; those reading a prompt chunk
// attend one by one, with a causal mask over their new tokens.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

#include "backend/model/attention.h"
#include "backend/serve/paged_kv_cache.h"
#include "backend/serve/step_batch.h"

namespace behemoth {

class PagedAttention : public CachedAttention {
 public:
  // `cache` must outlive this.
  PagedAttention(const StepBatch& batch, PagedKvCache& cache);

  at::Tensor positions() const override { return positions_; }
  at::Tensor attend(int layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) override;

 private:
  struct Prefill {
    std::int64_t offset = 0;  // its first new token in the packed row
    std::int64_t count = 0;   // new tokens
    std::int64_t cached = 0;  // tokens before them
    at::Tensor slots;         // every token's slot, cached ones first: [cached + count]
  };
  struct Decode {
    at::Tensor offsets;  // each sequence's one new token in the packed row: [R]
    at::Tensor slots;    // [R, longest]: row r's first lengths[r] entries are its tokens' slots
    at::Tensor lengths;  // [R]
    std::int64_t rows = 0;
  };

  at::Tensor attendPrefill(const Prefill& prefill, int layer, const at::Tensor& q) const;
  at::Tensor attendDecode(int layer, const at::Tensor& q) const;

  PagedKvCache& cache_;
  std::vector<Prefill> prefills_;
  Decode decode_;
  std::int64_t tokens_ = 0;
  at::Tensor positions_;  // [N]
  at::Tensor new_slots_;  // [N]
};

}  // namespace behemoth
