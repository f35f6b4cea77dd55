#include "backend/model/attention.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backend/model/recompute.h"

namespace behemoth {

at::Tensor causalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const ForwardDropout* dropout, int layer) {
  const std::int64_t length = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
  const at::Tensor future = at::ones({length, k.size(2)}, q.options().dtype(at::kBool)).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
  at::Tensor probabilities = at::softmax(scores, -1);
  if (dropout) probabilities = dropout->attention(probabilities, layer);
  return at::matmul(probabilities, v);
}

at::Tensor repeatKvHeads(const at::Tensor& kv, std::int64_t groups) {
  if (groups == 1) return kv;
  const auto batch = kv.size(0), heads = kv.size(1), length = kv.size(2), dim = kv.size(3);
  return kv.unsqueeze(2).expand({batch, heads, groups, length, dim}).reshape({batch, heads * groups, length, dim});
}

at::Tensor attentionCore(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ForwardDropout& dropout,
                         int layer, bool recompute) {
  // The dropout is copied: the region may run again in backward, when the model's dropout context
  // already describes another micro-batch.
  const auto core = [dropout, layer](const std::vector<at::Tensor>& qkv) {
    const std::int64_t groups = qkv[0].size(1) / qkv[1].size(1);
    return std::vector<at::Tensor>{
        causalAttention(qkv[0], repeatKvHeads(qkv[1], groups), repeatKvHeads(qkv[2], groups), &dropout, layer)};
  };
  if (!recompute) return core({q, k, v}).front();
  return recomputeInBackward(core, {q, k, v}).front();
}

RotaryTables rotaryTables(std::int64_t first_position, std::int64_t length, std::int64_t head_dim, double theta,
                          const at::TensorOptions& options) {
  const auto float_options = at::TensorOptions().dtype(at::kFloat).device(options.device());
  const at::Tensor exponents = at::arange(0, head_dim, 2, float_options) / static_cast<double>(head_dim);
  const at::Tensor inverse_frequency = at::reciprocal(at::pow(theta, exponents));
  const at::Tensor positions = at::arange(first_position, first_position + length, float_options);
  const at::Tensor angles = at::outer(positions, inverse_frequency);
  const at::Tensor doubled = at::cat({angles, angles}, -1);
  return {doubled.cos().to(options.dtype()), doubled.sin().to(options.dtype())};
}

at::Tensor applyRotary(const at::Tensor& x, const RotaryTables& tables) {
  const std::int64_t half = x.size(-1) / 2;
  const at::Tensor first = x.narrow(-1, 0, half);
  const at::Tensor second = x.narrow(-1, half, half);
  const at::Tensor rotated = at::cat({-second, first}, -1);
  return x * tables.cos + rotated * tables.sin;
}

}  // namespace behemoth
