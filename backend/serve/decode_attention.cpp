#include "backend/serve/decode_attention.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace behemoth {

namespace {

template <typename T>
float dot(const T* a, const T* b, std::int64_t n) {
  float total = 0;
  for (std::int64_t i = 0; i < n; ++i) total += static_cast<float>(a[i]) * static_cast<float>(b[i]);
  return total;
}

// One (sequence, query head): softmax(q . K / sqrt(D)) V over the sequence's slots.
template <typename T>
void attendOne(const T* query, const T* keys, const T* values, const std::int64_t* slots, std::int64_t length,
               std::int64_t row_stride, std::int64_t dim, float scale, std::vector<float>& weights, std::vector<float>& sum,
               T* out) {
  weights.resize(static_cast<std::size_t>(length));
  float largest = -INFINITY;
  for (std::int64_t l = 0; l < length; ++l) {
    weights[l] = dot(query, keys + slots[l] * row_stride, dim) * scale;
    largest = std::max(largest, weights[l]);
  }
  float total = 0;
  for (std::int64_t l = 0; l < length; ++l) total += (weights[l] = std::exp(weights[l] - largest));
  sum.assign(static_cast<std::size_t>(dim), 0.0F);
  for (std::int64_t l = 0; l < length; ++l) {
    const T* value = values + slots[l] * row_stride;
    const float weight = weights[l];
    for (std::int64_t d = 0; d < dim; ++d) sum[d] += weight * static_cast<float>(value[d]);
  }
  for (std::int64_t d = 0; d < dim; ++d) out[d] = static_cast<T>(sum[d] / total);
}

}  // namespace

at::Tensor decodeAttention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values, const at::Tensor& slots,
                           const at::Tensor& lengths) {
  const at::Tensor query = q.contiguous();
  const std::int64_t rows = query.size(0), heads = query.size(1), dim = query.size(2);
  const std::int64_t kv_heads = keys.size(1), groups = heads / kv_heads, longest = slots.size(1);
  TORCH_CHECK(keys.is_contiguous() && values.is_contiguous() && keys.scalar_type() == query.scalar_type(),
              "decodeAttention: the cache must be contiguous and in the query's dtype");
  at::Tensor out = at::empty_like(query);
  const float scale = 1.0F / std::sqrt(static_cast<float>(dim));
  const std::int64_t* slot_data = slots.data_ptr<std::int64_t>();
  const std::int64_t* length_data = lengths.data_ptr<std::int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, query.scalar_type(), "decodeAttention", [&] {
    const scalar_t* q_data = query.data_ptr<scalar_t>();
    const scalar_t* k_data = keys.data_ptr<scalar_t>();
    const scalar_t* v_data = values.data_ptr<scalar_t>();
    scalar_t* out_data = out.data_ptr<scalar_t>();
    at::parallel_for(0, rows * heads, 1, [&](std::int64_t begin, std::int64_t end) {
      std::vector<float> weights, sum;
      for (std::int64_t index = begin; index < end; ++index) {
        const std::int64_t r = index / heads, h = index % heads, kv = h / groups;
        attendOne(q_data + index * dim, k_data + kv * dim, v_data + kv * dim, slot_data + r * longest, length_data[r],
                  kv_heads * dim, dim, scale, weights, sum, out_data + index * dim);
      }
    });
  });
  return out;
}

}  // namespace behemoth
