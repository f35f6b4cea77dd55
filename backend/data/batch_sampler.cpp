#include "backend/data/batch_sampler.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "backend/data/counter_rng.h"

namespace behemoth {

BatchSampler::BatchSampler(std::shared_ptr<const Corpus> corpus, SamplerOptions options)
    : corpus_(std::move(corpus)), options_(options) {
  if (!corpus_) throw std::invalid_argument("data.corpus: no corpus given to the batch sampler");
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
  const auto eval_bytes = static_cast<std::int64_t>(std::floor(corpus_->size() * options_.eval_fraction));
  train_bytes_ = corpus_->size() - eval_bytes;
  if (train_bytes_ < options_.seq_len + 1) {
    throw std::invalid_argument("data.corpus: the training split has " + std::to_string(train_bytes_) +
                                " bytes, fewer than one window of model.seq_len + 1 = " +
                                std::to_string(options_.seq_len + 1));
  }
}

std::int64_t BatchSampler::trainWindowOffset(std::int64_t step, int sequence) const {
  const auto starts = static_cast<std::uint64_t>(train_bytes_ - options_.seq_len);  // windows that fit
  const std::uint64_t bits =
      counterHash(options_.seed, static_cast<std::uint64_t>(step), static_cast<std::uint64_t>(sequence));
  return static_cast<std::int64_t>(bits % starts);
}

std::int64_t BatchSampler::evalWindowCount() const {
  const std::int64_t eval_bytes = evalBytes();
  return eval_bytes < options_.seq_len + 1 ? 0 : (eval_bytes - 1) / options_.seq_len;
}

std::int64_t BatchSampler::evalWindowOffset(std::int64_t index, int sequence) const {
  const std::int64_t windows = evalWindowCount();
  if (windows == 0) {
    throw std::invalid_argument("data.eval_fraction: the held-out split has " + std::to_string(evalBytes()) +
                                " bytes, fewer than one window of model.seq_len + 1 = " +
                                std::to_string(options_.seq_len + 1));
  }
  if (index < 0) throw std::invalid_argument("evalBatch: negative batch index " + std::to_string(index));
  const std::int64_t window = (index * options_.global_batch_size + sequence) % windows;
  return train_bytes_ + window * options_.seq_len;
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
  const auto* bytes = reinterpret_cast<const unsigned char*>(corpus_->bytes.data());
  for (std::size_t row = 0; row < offsets.size(); ++row) {
    for (std::int64_t column = 0; column < width; ++column) {
      out[static_cast<std::int64_t>(row) * width + column] = bytes[offsets[row] + column];
    }
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
