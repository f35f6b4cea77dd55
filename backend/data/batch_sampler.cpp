#include "backend/data/batch_sampler.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "backend/data/counter_rng.h"

namespace behemoth {

namespace {

class CorpusBytes final : public TokenArray {
 public:
  explicit CorpusBytes(std::shared_ptr<const Corpus> corpus) : corpus_(std::move(corpus)) {}
  std::int64_t size() const override { return corpus_->size(); }
  void copy(std::int64_t offset, std::int64_t count, std::int64_t* out) const override {
    const auto* bytes = reinterpret_cast<const unsigned char*>(corpus_->bytes.data()) + offset;
    for (std::int64_t k = 0; k < count; ++k) out[k] = bytes[k];
  }
  const char* unit() const override { return "bytes"; }

 private:
  std::shared_ptr<const Corpus> corpus_;
};

}  // namespace

std::shared_ptr<const TokenArray> corpusBytes(std::shared_ptr<const Corpus> corpus) {
  if (!corpus) throw std::invalid_argument("data.corpus: no corpus given to the batch sampler");
  return std::make_shared<const CorpusBytes>(std::move(corpus));
}

BatchSampler::BatchSampler(std::shared_ptr<const Corpus> corpus, SamplerOptions options)
    : BatchSampler(corpusBytes(std::move(corpus)), options) {}

BatchSampler::BatchSampler(std::shared_ptr<const TokenArray> tokens, SamplerOptions options)
    : tokens_(std::move(tokens)), options_(options) {
  if (!tokens_) throw std::invalid_argument("data.corpus: no tokens given to the batch sampler");
  if (options_.seq_len <= 0) {
    throw std::invalid_argument("model.seq_len: must be positive, got " + std::to_string(options_.seq_len));
  }
  if (options_.global_batch_size <= 0) {
    throw std::invalid_argument("data.global_batch_size: must be positive, got " +
                                std::to_string(options_.global_batch_size));
  }
  if (!(options_.eval_fraction >= 0.0 && options_.eval_fraction < 1.0)) {
    throw std::invalid_argument("data.eval_fraction: must be in [0, 1), got " + std::to_string(options_.eval_fraction));
  }
  const std::int64_t size = tokens_->size();
  const std::int64_t block = blockBytes(size, options_.seq_len, options_.eval_fraction);
  const std::int64_t width = options_.seq_len + 1;  // ids one window covers
  for (std::int64_t index = 0, begin = 0; begin < size; ++index, begin += block) {
    const Block range{begin, std::min(size, begin + block)};
    if (isHeldOutBlock(index, options_.eval_fraction)) {
      eval_blocks_.push_back(range);
      for (std::int64_t at = range.begin; at + width <= range.end; at += options_.seq_len) eval_offsets_.push_back(at);
    } else {
      train_blocks_.push_back(range);
      train_bytes_ += range.end - range.begin;
      const std::int64_t starts = std::max<std::int64_t>(0, range.end - range.begin - options_.seq_len);
      train_starts_.push_back((train_starts_.empty() ? 0 : train_starts_.back()) + starts);
    }
  }
  if (trainWindowCount() == 0) {
    const std::string unit = tokens_->unit();
    throw std::invalid_argument("data.corpus: the training split has " + std::to_string(train_bytes_) + " " + unit +
                                " in blocks of " + std::to_string(block) +
                                ", fewer than one window of model.seq_len + 1 = " + std::to_string(width));
  }
}

std::int64_t BatchSampler::blockBytes(std::int64_t corpus_bytes, int seq_len, double eval_fraction) {
  // Without a held-out split the corpus is one block. Otherwise about 20 held-out blocks, so they
  // sample the whole corpus, of at most 16 KiB, and never shorter than two windows.
  if (eval_fraction <= 0.0) return std::max<std::int64_t>(corpus_bytes, 1);
  constexpr std::int64_t kLargestBlock = 16 * 1024;
  constexpr double kHeldOutBlocksWanted = 20.0;
  const auto spread = static_cast<std::int64_t>(double(corpus_bytes) * eval_fraction / kHeldOutBlocksWanted);
  return std::max<std::int64_t>(2 * (std::int64_t{seq_len} + 1), std::min(kLargestBlock, spread));
}

bool BatchSampler::isHeldOutBlock(std::int64_t block, double eval_fraction) {
  return std::floor(double(block + 1) * eval_fraction) > std::floor(double(block) * eval_fraction);
}

std::int64_t BatchSampler::trainWindowOffset(std::int64_t step, int sequence) const {
  const std::uint64_t bits =
      counterHash(options_.seed, static_cast<std::uint64_t>(step), static_cast<std::uint64_t>(sequence));
  const auto start = static_cast<std::int64_t>(bits % static_cast<std::uint64_t>(trainWindowCount()));
  // The block holding the start-th window start, then the start inside it.
  const auto block = std::upper_bound(train_starts_.begin(), train_starts_.end(), start) - train_starts_.begin();
  const std::int64_t before = block == 0 ? 0 : train_starts_[static_cast<std::size_t>(block) - 1];
  return train_blocks_[static_cast<std::size_t>(block)].begin + (start - before);
}

std::int64_t BatchSampler::evalWindowOffset(std::int64_t index, int sequence) const {
  const std::int64_t windows = evalWindowCount();
  if (windows == 0) {
    throw std::invalid_argument("data.eval_fraction: the held-out split has " + std::to_string(evalBytes()) + " " +
                                tokens_->unit() + ", fewer than one window of model.seq_len + 1 = " +
                                std::to_string(options_.seq_len + 1));
  }
  if (index < 0) throw std::invalid_argument("evalBatch: negative batch index " + std::to_string(index));
  const std::int64_t window = (index * options_.global_batch_size + sequence) % windows;
  return eval_offsets_[static_cast<std::size_t>(window)];
}

void BatchSampler::checkSlice(const char* what, int first_seq, int count) const {
  if (first_seq < 0 || count <= 0 || first_seq + count > options_.global_batch_size) {
    throw std::invalid_argument(std::string(what) + ": sequences [" + std::to_string(first_seq) + ", " +
                                std::to_string(first_seq + count) + ") are not inside the global batch of " +
                                "data.global_batch_size = " + std::to_string(options_.global_batch_size));
  }
}

Batch BatchSampler::windowsAt(const std::vector<std::int64_t>& offsets) const {
  const std::int64_t width = options_.seq_len + 1;
  at::Tensor windows = at::empty({static_cast<std::int64_t>(offsets.size()), width}, at::kLong);
  auto* out = windows.data_ptr<std::int64_t>();
  for (std::size_t row = 0; row < offsets.size(); ++row) {
    tokens_->copy(offsets[row], width, out + static_cast<std::int64_t>(row) * width);
  }
  return {windows.narrow(1, 0, options_.seq_len).contiguous(), windows.narrow(1, 1, options_.seq_len).contiguous()};
}

Batch BatchSampler::globalBatchSlice(std::int64_t step, int first_seq, int count) const {
  checkSlice("globalBatchSlice", first_seq, count);
  if (step < 0) throw std::invalid_argument("globalBatchSlice: negative step " + std::to_string(step));
  std::vector<std::int64_t> offsets;
  for (int sequence = first_seq; sequence < first_seq + count; ++sequence) {
    offsets.push_back(trainWindowOffset(step, sequence));
  }
  return windowsAt(offsets);
}

Batch BatchSampler::evalBatch(std::int64_t index, int first_seq, int count) const {
  checkSlice("evalBatch", first_seq, count);
  std::vector<std::int64_t> offsets;
  for (int sequence = first_seq; sequence < first_seq + count; ++sequence) {
    offsets.push_back(evalWindowOffset(index, sequence));
  }
  return windowsAt(offsets);
}

void BatchSampler::restore(std::int64_t step) {
  if (step < 0) throw std::invalid_argument("BatchSampler::restore: negative step " + std::to_string(step));
  position_ = step;
}

}  // namespace behemoth
