#include "kernels/blockwise_attention.h"

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace behemoth {
namespace {

// The options (with the dropout's mask function) travel to backward in the node's saved data.
struct OptionsCapsule : torch::CustomClassHolder {
  explicit OptionsCapsule(BlockwiseAttentionOptions o) : options(std::move(o)) {}
  BlockwiseAttentionOptions options;
};

void checkShapes(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, std::int64_t block) {
  const bool ranks = q.dim() == 4 && k.dim() == 4 && v.dim() == 4;
  if (!ranks || k.sizes() != v.sizes() || q.size(0) != k.size(0) || q.size(2) != k.size(2) || q.size(3) != k.size(3) ||
      k.size(1) < 1 || q.size(1) % k.size(1) != 0) {
    throw std::invalid_argument("blockwise attention: q must be [B, H, T, D] and k, v [B, Hkv, T, D] with H a multiple of Hkv");
  }
  if (block < 1) throw std::invalid_argument("model.attention_block: must be >= 1, got " + std::to_string(block));
}

class BlockwiseAttentionFunction : public torch::autograd::Function<BlockwiseAttentionFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v, const BlockwiseAttentionOptions& options) {
    const std::int64_t batch = q.size(0), heads = q.size(1), length = q.size(2), dim = q.size(3);
    const std::int64_t kv_heads = k.size(1), groups = heads / kv_heads, block = options.block;
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    const at::Tensor grouped_q = q.reshape({batch, kv_heads, groups, length, dim});
    at::Tensor out = at::empty({batch, length, heads, dim}, q.options());
    const at::Tensor grouped_out = groupedFromTokenMajor(out, kv_heads);
    at::Tensor log_sum_exp = at::empty({batch, kv_heads, groups, length, 1}, q.options().dtype(at::kFloat));
    for (std::int64_t q_start = 0; q_start < length; q_start += block) {
      const std::int64_t q_length = std::min(block, length - q_start);
      OnlineSoftmax softmax(queryBlockOf(grouped_q, q_start, q_length, q_start), scale);
      // Only key blocks at or before the query block's end are visible.
      for (std::int64_t k_start = 0; k_start < q_start + q_length; k_start += block) {
        const std::int64_t k_length = std::min(block, length - k_start);
        softmax.add({k.narrow(2, k_start, k_length), v.narrow(2, k_start, k_length), k_start}, options.dropout);
      }
      grouped_out.narrow(3, q_start, q_length).copy_(softmax.output());
      log_sum_exp.narrow(3, q_start, q_length).copy_(softmax.logSumExp());
    }
    context->saved_data["options"] = at::IValue::make_capsule(c10::make_intrusive<OptionsCapsule>(options));
    context->save_for_backward({q, k, v, out, log_sum_exp});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list output_grads) {
    const auto capsule = context->saved_data.at("options").toCapsule();
    const BlockwiseAttentionOptions& options = static_cast<const OptionsCapsule*>(capsule.get())->options;
    const auto saved = context->get_saved_variables();
    const at::Tensor& q = saved[0];
    const at::Tensor& k = saved[1];
    const at::Tensor& v = saved[2];
    const std::int64_t batch = q.size(0), heads = q.size(1), length = q.size(2), dim = q.size(3);
    const std::int64_t kv_heads = k.size(1), groups = heads / kv_heads, block = options.block;
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    const at::Tensor grouped_q = q.reshape({batch, kv_heads, groups, length, dim});
    const at::Tensor d_out = groupedFromTokenMajor(output_grads[0], kv_heads).to(at::kFloat);
    const at::Tensor out = groupedFromTokenMajor(saved[3], kv_heads).to(at::kFloat);
    const at::Tensor delta = (d_out * out).sum(-1, /*keepdim=*/true);
    const at::Tensor& log_sum_exp = saved[4];
    const auto stats = q.options().dtype(at::kFloat);
    at::Tensor d_q = at::zeros({batch, kv_heads, groups, length, dim}, stats);
    at::Tensor d_k = at::zeros(k.sizes(), stats);
    at::Tensor d_v = at::zeros(v.sizes(), stats);
    for (std::int64_t q_start = 0; q_start < length; q_start += block) {
      const std::int64_t q_length = std::min(block, length - q_start);
      const QueryBlock query = queryBlockOf(grouped_q, q_start, q_length, q_start);
      const QueryBlockGradientInput gradient{d_out.narrow(3, q_start, q_length).contiguous(),
                                             log_sum_exp.narrow(3, q_start, q_length),
                                             delta.narrow(3, q_start, q_length)};
      at::Tensor d_q_block = d_q.narrow(3, q_start, q_length);
      for (std::int64_t k_start = 0; k_start < q_start + q_length; k_start += block) {
        const std::int64_t k_length = std::min(block, length - k_start);
        at::Tensor d_k_block = d_k.narrow(2, k_start, k_length);
        at::Tensor d_v_block = d_v.narrow(2, k_start, k_length);
        accumulateBlockGradients(query, gradient,
                                 {k.narrow(2, k_start, k_length), v.narrow(2, k_start, k_length), k_start}, scale,
                                 options.dropout, d_q_block, d_k_block, d_v_block);
      }
    }
    return {d_q.view({batch, heads, length, dim}).to(q.scalar_type()), d_k.to(k.scalar_type()),
            d_v.to(v.scalar_type()), at::Tensor()};
  }
};

}  // namespace

at::Tensor groupedFromTokenMajor(const at::Tensor& x, std::int64_t kv_heads) {
  const std::int64_t groups = x.size(2) / kv_heads;
  return x.reshape({x.size(0), x.size(1), kv_heads, groups, x.size(3)}).permute({0, 2, 3, 1, 4});
}

QueryBlock queryBlockOf(const at::Tensor& grouped_q, std::int64_t start, std::int64_t length, std::int64_t position) {
  return {grouped_q.narrow(3, start, length).contiguous(), position};
}

at::Tensor blockwiseCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const BlockwiseAttentionOptions& options) {
  checkShapes(q, k, v, options.block);
  return BlockwiseAttentionFunction::apply(q, k, v, options).transpose(1, 2);
}

}  // namespace behemoth
