// Where every parameter lives in ZeRO's flat buffers and which slice of them a dp rank owns.
//
// Parameters are grouped in reverse model order (the order backward produces gradients) into
// buckets of about bucket_bytes. Each bucket is one flat buffer padded with zeros to a multiple of
// dp, so it splits into dp equal shards; dp rank r owns shard r of every bucket. A rank's
// partition (its optimizer states, fp32 masters and, in stage 2, gradients) is the concatenation
// of its shards: one contiguous buffer of partitionNumel() elements.
#pragma once

#include <cstdint>
#include <vector>

namespace behemoth {

struct ZeroBucket {
  std::vector<std::size_t> params;        // parameter indices, in bucket order
  std::vector<std::int64_t> offsets;      // element offset of each parameter inside the bucket
  std::int64_t numel = 0;                 // sum of the parameters' elements
  std::int64_t padded_numel = 0;          // numel rounded up to a multiple of dp
  std::int64_t shard_numel = 0;           // padded_numel / dp
  std::int64_t partition_offset = 0;      // where this bucket's shard starts in a rank's partition
};

// A piece of one parameter inside a rank's shard of a bucket.
struct ShardSegment {
  std::size_t param = 0;
  std::int64_t param_offset = 0;      // first element inside the parameter (flattened)
  std::int64_t partition_offset = 0;  // first element inside the rank's partition
  std::int64_t numel = 0;
};

class ZeroLayout {
 public:
  // numels[k] = elements of parameter k (model order); element_bytes sizes the buckets.
  ZeroLayout(const std::vector<std::int64_t>& numels, int element_bytes, std::int64_t bucket_bytes, int dp);

  int dp() const { return dp_; }
  const std::vector<ZeroBucket>& buckets() const { return buckets_; }
  std::size_t bucketOf(std::size_t param) const { return bucket_of_param_.at(param); }
  std::int64_t partitionNumel() const { return partition_numel_; }
  std::int64_t paddedNumel() const { return partition_numel_ * dp_; }
  std::int64_t parameterNumel() const { return parameter_numel_; }
  // The parameter pieces inside rank `rank`'s partition, in partition order (padding excluded).
  std::vector<ShardSegment> segmentsOf(int rank) const;

 private:
  int dp_;
  std::vector<ZeroBucket> buckets_;
  std::vector<std::size_t> bucket_of_param_;
  std::vector<std::int64_t> numels_;
  std::int64_t partition_numel_ = 0;
  std::int64_t parameter_numel_ = 0;
};

}  // namespace behemoth
