#include "backend/serve/step_batch.h"

#include <stdexcept>

namespace behemoth {

std::int64_t StepBatch::tokenCount() const {
  std::int64_t count = 0;
  for (const SequenceStep& sequence : sequences) count += static_cast<std::int64_t>(sequence.tokens.size());
  return count;
}

// [shutdown, sequences, then per sequence: cached, wants_logits, blocks, tokens, block ids..., token ids...]
std::vector<std::int64_t> encodeStepBatch(const StepBatch& batch) {
  std::vector<std::int64_t> words{batch.shutdown ? 1 : 0, static_cast<std::int64_t>(batch.sequences.size())};
  for (const SequenceStep& sequence : batch.sequences) {
    words.push_back(sequence.cached);
    words.push_back(sequence.wants_logits ? 1 : 0);
    words.push_back(static_cast<std::int64_t>(sequence.blocks.size()));
    words.push_back(static_cast<std::int64_t>(sequence.tokens.size()));
    words.insert(words.end(), sequence.blocks.begin(), sequence.blocks.end());
    words.insert(words.end(), sequence.tokens.begin(), sequence.tokens.end());
  }
  return words;
}

StepBatch decodeStepBatch(const std::vector<std::int64_t>& words) {
  std::size_t at = 0;
  const auto next = [&]() {
    if (at >= words.size()) throw std::invalid_argument("serve step: the step description is truncated");
    return words[at++];
  };
  StepBatch batch;
  batch.shutdown = next() != 0;
  const std::int64_t count = next();
  if (count < 0) throw std::invalid_argument("serve step: negative sequence count");
  for (std::int64_t s = 0; s < count; ++s) {
    SequenceStep sequence;
    sequence.cached = next();
    sequence.wants_logits = next() != 0;
    const std::int64_t blocks = next();
    const std::int64_t tokens = next();
    if (blocks < 0 || tokens < 0) throw std::invalid_argument("serve step: negative block or token count");
    for (std::int64_t b = 0; b < blocks; ++b) sequence.blocks.push_back(static_cast<int>(next()));
    for (std::int64_t t = 0; t < tokens; ++t) sequence.tokens.push_back(next());
    batch.sequences.push_back(std::move(sequence));
  }
  if (at != words.size()) throw std::invalid_argument("serve step: trailing words after the last sequence");
  return batch;
}

}  // namespace behemoth
