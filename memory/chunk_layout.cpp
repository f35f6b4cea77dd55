#include "memory/chunk_layout.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace behemoth {
namespace {

std::int64_t roundUp(std::int64_t value, std::int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// Chunks needed when tensors are packed whole, in order, into chunks of `capacity` elements.
std::int64_t chunksNeeded(const std::vector<std::int64_t>& numels, std::int64_t capacity) {
  std::int64_t chunks = 0;
  std::int64_t left = 0;
  for (const std::int64_t n : numels) {
    if (n > left) {
      ++chunks;
      left = capacity;
    }
    left -= n;
  }
  return chunks;
}

}  // namespace

std::int64_t searchChunkElements(const std::vector<std::int64_t>& numels, int dp) {
  if (dp < 1) throw std::invalid_argument("chunk search: dp must be >= 1");
  if (numels.empty()) return dp;
  const std::int64_t largest = *std::max_element(numels.begin(), numels.end());
  const std::int64_t total = std::accumulate(numels.begin(), numels.end(), std::int64_t{0});
  const std::int64_t low = roundUp(std::max<std::int64_t>(largest, 1), dp);
  const std::int64_t high = std::max(low, roundUp(std::min(4 * largest, total), dp));
  constexpr std::int64_t kMaxCandidates = 2000;
  const std::int64_t granule = roundUp(std::max<std::int64_t>(1, (high - low) / kMaxCandidates), dp);
  std::int64_t best = low;
  std::int64_t best_waste = chunksNeeded(numels, low) * low - total;
  for (std::int64_t capacity = low + granule; capacity <= high; capacity += granule) {
    const std::int64_t waste = chunksNeeded(numels, capacity) * capacity - total;
    if (waste < best_waste) {
      best = capacity;
      best_waste = waste;
    }
  }
  return best;
}

ChunkLayout::ChunkLayout(const ChunkLayoutRequest& request) : dp_(request.dp) {
  if (dp_ < 1) throw std::invalid_argument("chunk layout: dp must be >= 1, got " + std::to_string(dp_));
  const std::size_t count = request.numels.size();
  std::vector<bool> seen(count, false);
  if (request.first_use.size() != count) {
    throw std::invalid_argument("chunk layout: the use order lists " + std::to_string(request.first_use.size()) +
                                " tensors, the model has " + std::to_string(count));
  }
  for (const std::size_t t : request.first_use) {
    if (t >= count || seen[t]) throw std::invalid_argument("chunk layout: the use order is not a permutation of the tensors");
    seen[t] = true;
  }
  std::vector<std::size_t> chunked;
  std::vector<std::size_t> small;
  for (const std::size_t t : request.first_use) {
    const bool keep = !request.keep_gathered.empty() && request.keep_gathered.at(t);
    (keep ? small : chunked).push_back(t);
  }
  std::vector<std::int64_t> chunked_numels;
  for (const std::size_t t : chunked) chunked_numels.push_back(request.numels[t]);
  const std::int64_t largest =
      chunked_numels.empty() ? 0 : *std::max_element(chunked_numels.begin(), chunked_numels.end());
  if (request.chunk_elements > 0) {
    chunk_elements_ = roundUp(request.chunk_elements, dp_);
    if (chunk_elements_ < largest) {
      throw std::invalid_argument("parallel.chunk_mb: a chunk of " + std::to_string(chunk_elements_) +
                                  " elements cannot hold the largest tensor (" + std::to_string(largest) +
                                  " elements); raise it or set 0 to search");
    }
  } else {
    chunk_elements_ = searchChunkElements(chunked_numels, dp_);
  }
  chunk_of_.assign(count, 0);
  const auto append = [&](ChunkSpec& chunk, std::size_t t) {
    chunk.members.push_back({t, chunk.numel, request.numels[t]});
    chunk.numel += request.numels[t];
    chunk_of_[t] = chunks_.size() - 1;
  };
  for (const std::size_t t : chunked) {
    if (chunks_.empty() || chunks_.back().numel + request.numels[t] > chunk_elements_) {
      chunks_.push_back({});
      chunks_.back().capacity = chunk_elements_;
    }
    append(chunks_.back(), t);
  }
  if (!small.empty()) {
    chunks_.push_back({});
    chunks_.back().persistent = true;
    for (const std::size_t t : small) append(chunks_.back(), t);
    chunks_.back().capacity = roundUp(chunks_.back().numel, dp_);
  }
}

std::int64_t ChunkLayout::paddingElements() const { return capacityElements() - tensorElements(); }

std::int64_t ChunkLayout::capacityElements() const {
  std::int64_t total = 0;
  for (const ChunkSpec& chunk : chunks_) total += chunk.capacity;
  return total;
}

std::int64_t ChunkLayout::tensorElements() const {
  std::int64_t total = 0;
  for (const ChunkSpec& chunk : chunks_) total += chunk.numel;
  return total;
}

}  // namespace behemoth
