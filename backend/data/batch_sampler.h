// Deterministic batches from a Corpus's bytes or from a tokenized corpus's ids (a TokenArray):
// everything below says "bytes" for the byte tokenizer and means ids for any other.
//
// Splits: the corpus is cut into blocks of blockBytes() and a share eval_fraction of them, spread
// evenly over the whole corpus (block i is held out when floor((i + 1) f) > floor(i f)), forms the
// held-out split; the rest is the training split. Held-out text is therefore drawn from the same
// files and the same mix as training, not from the corpus's tail. No window crosses a block, so no
// window mixes the splits.
//
// Training: the global batch of step s is global_batch_size windows of seq_len + 1 bytes, each at a
// start drawn uniformly over every start that fits inside a training block, by a counter-based RNG
// from (seed, s, i) -- not torch's generator -- so every machine, LibTorch version and parallel
// layout sees the same bytes. A data-parallel rank r of dp takes sequences [r * B / dp,
// (r + 1) * B / dp) via globalBatchSlice, and a micro-batch a sub-range of those.
//
// Evaluation: consecutive, non-overlapping windows (stride seq_len) of the held-out blocks, in
// corpus order, so evaluation batch k is the same for every seed. The project validation refuses
// train.eval_batches that would need more windows than the split holds (they would repeat).
//
// State: the sampler's only state is the step counter (position()); restoring it after a restart
// reproduces the batch sequence exactly. Batches for a given step never depend on it.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/data/corpus.h"
#include "backend/data/token_array.h"

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
  // Windows of seq_len + 1 ids of `tokens` (a token cache), split and drawn exactly as bytes are.
  BatchSampler(std::shared_ptr<const TokenArray> tokens, SamplerOptions options);

  // Sequences [first_seq, first_seq + count) of the global training batch of `step`.
  Batch globalBatchSlice(std::int64_t step, int first_seq, int count) const;
  // Sequences [first_seq, first_seq + count) of evaluation batch `index` (global_batch_size each).
  Batch evalBatch(std::int64_t index, int first_seq, int count) const;

  // Byte offsets of the windows (each covers seq_len + 1 bytes).
  std::int64_t trainWindowOffset(std::int64_t step, int sequence) const;
  std::int64_t evalWindowOffset(std::int64_t index, int sequence) const;

  // Size of the blocks the corpus is split in (the last one may be shorter).
  static std::int64_t blockBytes(std::int64_t corpus_bytes, int seq_len, double eval_fraction);
  static bool isHeldOutBlock(std::int64_t block, double eval_fraction);

  // Bytes of each split, and the corpus ranges [begin, end) of its blocks in corpus order.
  std::int64_t trainBytes() const { return train_bytes_; }
  std::int64_t evalBytes() const { return tokens_->size() - train_bytes_; }
  struct Block {
    std::int64_t begin = 0;
    std::int64_t end = 0;
  };
  const std::vector<Block>& trainBlocks() const { return train_blocks_; }
  const std::vector<Block>& evalBlocks() const { return eval_blocks_; }
  // Distinct training window starts, and evaluation windows before they repeat (0 when the
  // held-out split is too small to evaluate).
  std::int64_t trainWindowCount() const { return train_starts_.empty() ? 0 : train_starts_.back(); }
  std::int64_t evalWindowCount() const { return static_cast<std::int64_t>(eval_offsets_.size()); }
  const SamplerOptions& options() const { return options_; }

  // The next training step to draw; the trainer advances it after each step and saves it in
  // checkpoints, restore() puts it back.
  std::int64_t position() const { return position_; }
  void advance() { ++position_; }
  void restore(std::int64_t step);

 private:
  void checkSlice(const char* what, int first_seq, int count) const;
  Batch windowsAt(const std::vector<std::int64_t>& offsets) const;

  std::shared_ptr<const TokenArray> tokens_;
  SamplerOptions options_;
  std::int64_t train_bytes_ = 0;
  std::vector<Block> train_blocks_;
  std::vector<Block> eval_blocks_;
  std::vector<std::int64_t> train_starts_;   // cumulative window starts over train_blocks_
  std::vector<std::int64_t> eval_offsets_;   // every evaluation window, in order
  std::int64_t position_ = 0;
};

}  // namespace behemoth
