// The ids a BatchSampler draws its windows from: the corpus's bytes (the byte tokenizer: id = byte
// value, no copy) or a token cache's ids (token_cache.h). The sampler sees only a length and a way
// to copy a window, so both are sampled the same deterministic way.
#pragma once

#include <cstdint>
#include <memory>

#include "backend/data/corpus.h"

namespace behemoth {

class TokenArray {
 public:
  virtual ~TokenArray() = default;
  virtual std::int64_t size() const = 0;
  // Ids [offset, offset + count) into out[0, count); the caller keeps inside [0, size()).
  virtual void copy(std::int64_t offset, std::int64_t count, std::int64_t* out) const = 0;
  // What one id is, for messages: "bytes" or "tokens".
  virtual const char* unit() const = 0;
};

// The corpus's bytes as ids (shares the corpus, copies nothing).
std::shared_ptr<const TokenArray> corpusBytes(std::shared_ptr<const Corpus> corpus);

}  // namespace behemoth
