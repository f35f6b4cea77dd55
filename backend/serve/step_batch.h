// What one serving step computes: for each sequence in the running batch, the new tokens (a chunk
// of its prompt, or the one token it generated last) that go through the model and into its KV
// cache after the `cached` tokens already there. Token i of a sequence sits at cache index (and
// position) cached + i. Rank 0's scheduler makes it; under tensor parallelism it is broadcast so
// that every rank runs the same step on its own heads.
#pragma once

#include <cstdint>
#include <vector>

namespace behemoth {

struct SequenceStep {
  std::vector<int> blocks;           // the sequence's block table (enough for cached + tokens)
  std::int64_t cached = 0;           // tokens already in the cache
  std::vector<std::int64_t> tokens;  // the new tokens
  bool wants_logits = true;          // false for a prompt chunk that is not the prompt's last
};

struct StepBatch {
  std::vector<SequenceStep> sequences;
  bool shutdown = false;  // the server is stopping: peers leave their loop

  bool empty() const { return sequences.empty(); }
  std::int64_t tokenCount() const;
};

// A flat int64 encoding for the broadcast, and back. decodeStepBatch throws std::invalid_argument
// on a malformed array.
std::vector<std::int64_t> encodeStepBatch(const StepBatch& batch);
StepBatch decodeStepBatch(const std::vector<std::int64_t>& words);

}  // namespace behemoth
