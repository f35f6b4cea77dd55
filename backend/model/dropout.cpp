#include "backend/model/dropout.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "backend/data/counter_rng.h"

namespace behemoth {

namespace {

constexpr double kTwoTo53 = 9007199254740992.0;

std::string str(std::int64_t value) { return std::to_string(value); }

void checkSlice(at::IntArrayRef sizes, const FullTensorSlice& slice, double p) {
  if (!(p >= 0.0 && p < 1.0)) throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p));
  const std::size_t dims = sizes.size();
  if (dims == 0) throw std::invalid_argument("dropout: the tensor needs a sample dimension");
  if (slice.offsets.size() != dims - 1 || slice.full_sizes.size() != dims - 1) {
    throw std::invalid_argument("dropout: a " + str(static_cast<std::int64_t>(dims)) +
                                "-dimensional block needs offsets and full sizes for its dimensions after the first");
  }
  if (slice.first_sample < 0) throw std::invalid_argument("dropout: first sample " + str(slice.first_sample) + " < 0");
  for (std::size_t d = 1; d < dims; ++d) {
    const std::int64_t offset = slice.offsets[d - 1];
    if (offset < 0 || offset + sizes[d] > slice.full_sizes[d - 1]) {
      throw std::invalid_argument("dropout: dimension " + str(static_cast<std::int64_t>(d)) + " block [" + str(offset) +
                                  ", " + str(offset + sizes[d]) + ") is outside the full size " +
                                  str(slice.full_sizes[d - 1]));
    }
  }
}

}  // namespace

std::uint64_t dropoutStream(const DropoutContext& context, DropoutSite site, int layer) {
  const std::uint64_t step_stream = counterHash(context.seed, static_cast<std::uint64_t>(context.step));
  return counterHash(step_stream, static_cast<std::uint64_t>(site), static_cast<std::uint64_t>(layer));
}

at::Tensor droppedMask(at::IntArrayRef sizes, const FullTensorSlice& slice, std::uint64_t stream, double p) {
  checkSlice(sizes, slice, p);
  at::Tensor mask = at::zeros(sizes, at::kBool);
  const std::int64_t count = mask.numel();
  if (p == 0.0 || count == 0) return mask;

  const std::size_t dims = sizes.size();
  // Where each dimension of the block starts in the full tensor, and the full tensor's row-major
  // strides (dim 0, the samples, is unbounded: it needs no size).
  std::vector<std::uint64_t> start(dims);
  std::vector<std::uint64_t> full_stride(dims, 1);
  start[0] = static_cast<std::uint64_t>(slice.first_sample);
  for (std::size_t d = 1; d < dims; ++d) start[d] = static_cast<std::uint64_t>(slice.offsets[d - 1]);
  for (std::size_t d = dims - 1; d > 0; --d) {
    full_stride[d - 1] = full_stride[d] * static_cast<std::uint64_t>(slice.full_sizes[d - 1]);
  }

  const std::int64_t width = sizes[dims - 1];
  const std::int64_t rows = count / width;
  // Dropped when the top 53 bits are below p * 2^53 (exact: scaling by 2^53 does not round), i.e.
  // below its ceiling: kept with probability 1 - p to within 2^-53.
  const auto threshold = static_cast<std::uint64_t>(std::ceil(p * kTwoTo53));
  // counterHash(stream, i) == splitmix64(mixed_stream ^ i): mix the stream once, not per element.
  const std::uint64_t mixed_stream = splitmix64(stream);
  bool* const out = mask.data_ptr<bool>();

  // One thread: ranks run single-threaded, and on the shared 2-core machine at::parallel_for made
  // it no faster (benchmarks/dropout_bench.cpp).
  for (std::int64_t row = 0; row < rows; ++row) {
    // The full-tensor index of the row's first element, from the row's multi-index.
    std::uint64_t index = start[dims - 1] * full_stride[dims - 1];
    std::int64_t rest = row;
    for (std::size_t d = dims - 1; d > 0; --d) {
      const std::int64_t at_dim = rest % sizes[d - 1];
      rest /= sizes[d - 1];
      index += (start[d - 1] + static_cast<std::uint64_t>(at_dim)) * full_stride[d - 1];
    }
    bool* const row_out = out + row * width;
    for (std::int64_t j = 0; j < width; ++j) {
      row_out[j] = (splitmix64(mixed_stream ^ (index + static_cast<std::uint64_t>(j))) >> 11) < threshold;
    }
  }
  return mask;
}

at::Tensor applyDropout(const at::Tensor& x, const FullTensorSlice& slice, std::uint64_t stream, double p) {
  if (p == 0.0) return x;
  const at::Tensor dropped = droppedMask(x.sizes(), slice, stream, p);
  // masked_fill keeps only the bool mask for backward, which zeroes the same gradient elements.
  return x.mul(1.0 / (1.0 - p)).masked_fill(dropped.to(x.device()), 0.0);
}

at::Tensor ForwardDropout::residual(const at::Tensor& x, DropoutSite site, int layer) const {
  if (!active()) return x;
  if (x.dim() != 3) throw std::invalid_argument("dropout: residual activations must be [batch, length, width]");
  const std::uint64_t stream = dropoutStream(context, site, layer);
  // Each segment of the local tokens is a contiguous block of the full [samples, T, width] tensor.
  std::vector<at::Tensor> parts;
  std::int64_t local = 0;
  for (const SequenceSegment& segment : segments) {
    const FullTensorSlice slice{context.first_sample + residual_sample_offset,
                                {segment.start, feature_offset},
                                {full_length, full_features > 0 ? full_features : x.size(2)}};
    parts.push_back(applyDropout(x.narrow(1, local, segment.length), slice, stream, p));
    local += segment.length;
  }
  if (local != x.size(1)) {
    throw std::invalid_argument("dropout: " + str(x.size(1)) + " local tokens but the sequence shard holds " + str(local));
  }
  return parts.size() == 1 ? parts.front() : at::cat(parts, 1);
}

at::Tensor ForwardDropout::attention(const at::Tensor& probabilities, int layer) const {
  if (!active()) return probabilities;
  if (probabilities.dim() != 4) {
    throw std::invalid_argument("dropout: attention probabilities must be [batch, heads, queries, keys]");
  }
  const std::int64_t local_heads = probabilities.size(1);
  const FullTensorSlice slice{context.first_sample + attention_sample_offset,
                              {head_shard * local_heads, 0, 0},
                              {head_shards * local_heads, probabilities.size(2), probabilities.size(3)}};
  return applyDropout(probabilities, slice, dropoutStream(context, DropoutSite::attention_probabilities, layer), p);
}

AttentionBlockDropout ForwardDropout::attentionBlocks(int layer, std::int64_t local_heads) const {
  AttentionBlockDropout blocks;
  if (!active()) return blocks;
  blocks.p = p;
  const std::uint64_t stream = dropoutStream(context, DropoutSite::attention_probabilities, layer);
  const std::int64_t first_sample = context.first_sample + attention_sample_offset, first_head = head_shard * local_heads;
  const std::int64_t heads = head_shards * local_heads, length = full_length;
  const double probability = p;
  // The batch size is the block's: the caller's q block knows it; the mask is drawn per call.
  blocks.dropped = [=](std::int64_t batch, std::int64_t q_start, std::int64_t q_length, std::int64_t k_start,
                       std::int64_t k_length) {
    const FullTensorSlice slice{first_sample, {first_head, q_start, k_start}, {heads, length, length}};
    return droppedMask({batch, local_heads, q_length, k_length}, slice, stream, probability);
  };
  return blocks;
}

}  // namespace behemoth
