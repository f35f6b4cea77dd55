#include "parallel/zero/zero_layout.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace behemoth {

ZeroLayout::ZeroLayout(const std::vector<std::int64_t>& numels, int element_bytes, std::int64_t bucket_bytes, int dp)
    : dp_(dp), bucket_of_param_(numels.size()), numels_(numels) {
  if (dp < 1) throw std::invalid_argument("ZeroLayout: dp must be at least 1, got " + std::to_string(dp));
  if (numels.empty()) throw std::invalid_argument("ZeroLayout: no parameters to partition");
  std::int64_t filled = 0;
  for (std::size_t k = numels.size(); k-- > 0;) {
    if (buckets_.empty() || filled >= bucket_bytes) {
      buckets_.emplace_back();
      filled = 0;
    }
    ZeroBucket& bucket = buckets_.back();
    bucket.params.push_back(k);
    bucket.offsets.push_back(bucket.numel);
    bucket.numel += numels[k];
    bucket_of_param_[k] = buckets_.size() - 1;
    filled += numels[k] * element_bytes;
    parameter_numel_ += numels[k];
  }
  for (ZeroBucket& bucket : buckets_) {
    bucket.padded_numel = (bucket.numel + dp - 1) / dp * dp;
    bucket.shard_numel = bucket.padded_numel / dp;
    bucket.partition_offset = partition_numel_;
    partition_numel_ += bucket.shard_numel;
  }
}

std::vector<ShardSegment> ZeroLayout::segmentsOf(int rank) const {
  std::vector<ShardSegment> segments;
  for (const ZeroBucket& bucket : buckets_) {
    const std::int64_t shard_begin = rank * bucket.shard_numel;
    const std::int64_t shard_end = shard_begin + bucket.shard_numel;
    for (std::size_t i = 0; i < bucket.params.size(); ++i) {
      const std::int64_t begin = std::max(shard_begin, bucket.offsets[i]);
      const std::int64_t end = std::min(shard_end, bucket.offsets[i] + numels_[bucket.params[i]]);
      if (begin >= end) continue;
      segments.push_back({bucket.params[i], begin - bucket.offsets[i], bucket.partition_offset + (begin - shard_begin),
                          end - begin});
    }
  }
  return segments;
}

}  // namespace behemoth
