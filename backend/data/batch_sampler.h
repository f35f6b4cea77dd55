// Deterministic batches from a Corpus.
//
// Training: the global batch of step s is global_batch_size windows of seq_len + 1 bytes from the
// training split (the first 1 - eval_fraction of the corpus); window i starts at an offset drawn by
// a counter-based RNG from (seed, s, i) -- not torch's generator -- so every machine, LibTorch
// version and parallel layout sees the same bytes. A data-parallel rank r of dp takes sequences
// [r * B / dp, (r + 1) * B / dp) via globalBatchSlice, and a micro-batch a sub-range of those.
//
// Evaluation: consecutive, non-overlapping windows (stride seq_len) of the held-out tail, so
// evaluation batch k is the same for every seed and covers the split in order (wrapping around).
//
// State: the sampler's only state is the step counter (position()); restoring it after a restart
// reproduces the batch sequence exactly. Batches for a given step never depend on it.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/data/corpus.h"

namespace behemoth {

struct SamplerOptions {
  int seq_len = 64;
  int global_batch_size = 8;
  std::uint64_t seed = 0;
  double eval_fraction = 0.05;
};

// inputs [count, seq_len] int64; targets: the same windows shifted by one byte.
struct Batch {
  at::Tensor inputs;
  at::Tensor targets;
};

class BatchSampler {
 public:
  // Throws std::invalid_argument naming the field (data.*, model.seq_len) when the corpus split
  // cannot hold one training window.
  BatchSampler(std::shared_ptr<const Corpus> corpus, SamplerOptions options);

  // Sequences [first_seq, first_seq + count) of the global training batch of `step`.
  Batch globalBatchSlice(std::int64_t step, int first_seq, int count) const;
  // Sequences [first_seq, first_seq + count) of evaluation batch `index` (global_batch_size each).
  Batch evalBatch(std::int64_t index, int first_seq, int count) const;

  // Byte offsets of the windows (each covers seq_len + 1 bytes).
  std::int64_t trainWindowOffset(std::int64_t step, int sequence) const;
  std::int64_t evalWindowOffset(std::int64_t index, int sequence) const;

  // The training split is bytes [0, trainBytes()), the evaluation split the rest.
  std::int64_t trainBytes() const { return train_bytes_; }
  std::int64_t evalBytes() const { return corpus_->size() - train_bytes_; }
  // Distinct evaluation windows before they repeat (0 when the split is too small to evaluate).
  std::int64_t evalWindowCount() const;
  const SamplerOptions& options() const { return options_; }

  // The next training step to draw; the trainer advances it after each step and saves it in
  // checkpoints, restore() puts it back.
  std::int64_t position() const { return position_; }
  void advance() { ++position_; }
  void restore(std::int64_t step);

 private:
  void checkSlice(const char* what, int first_seq, int count) const;
  Batch windowsAt(const std::vector<std::int64_t>& offsets) const;

  std::shared_ptr<const Corpus> corpus_;
  SamplerOptions options_;
  std::int64_t train_bytes_ = 0;
  std::int64_t position_ = 0;
};

}  // namespace behemoth
