#include "parallel/sequence_parallel/ring_attention.h"

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/blockwise_attention.h"
#include "parallel/sequence_parallel/sequence_shard.h"

namespace behemoth {
namespace {

// A block of a rank's local tokens: where it sits locally and in the whole sequence.
struct LocalBlock {
  std::int64_t local_offset = 0;
  std::int64_t position = 0;
  std::int64_t length = 0;
};

std::vector<LocalBlock> blocksOf(const SequenceSegments& segments, std::int64_t block) {
  std::vector<LocalBlock> blocks;
  std::int64_t local = 0;
  for (const SequenceSegment& segment : segments) {
    for (std::int64_t offset = 0; offset < segment.length; offset += block) {
      blocks.push_back({local + offset, segment.start + offset, std::min(block, segment.length - offset)});
    }
    local += segment.length;
  }
  return blocks;
}

std::vector<LocalBlock> rankBlocks(const RingAttentionOptions& options, const Group& sp, int rank) {
  return blocksOf(sequenceShard(SequenceSplit::zigzag, options.full_length, sp.size(), rank), options.block);
}

KeyValueBlock keyValueBlock(const at::Tensor& kv, const LocalBlock& block) {
  return {kv[0].narrow(2, block.local_offset, block.length), kv[1].narrow(2, block.local_offset, block.length),
          block.position};
}

int nextRank(const Group& sp) { return (sp.rank() + 1) % sp.size(); }
int previousRank(const Group& sp) { return (sp.rank() + sp.size() - 1) % sp.size(); }

// One hop of the ring: `outgoing` to the next rank, the previous rank's into `incoming`.
struct Hop {
  PendingWork send;
  PendingWork receive;
  at::Tensor incoming;
  at::Tensor finish() {
    receive.wait();
    send.wait();
    return incoming;
  }
};

Hop startHop(Group& sp, const at::Tensor& outgoing, int tag, const std::string& what) {
  Hop hop;
  hop.incoming = at::empty_like(outgoing);
  hop.send = sp.sendAsync(outgoing, nextRank(sp), tag, what + " to the next sp rank");
  hop.receive = sp.recvAsync(hop.incoming, previousRank(sp), tag, what + " from the previous sp rank");
  return hop;
}

constexpr int kGradientTagBase = 1 << 16;  // the key/value gradients' hops, apart from the blocks'

struct OptionsCapsule : torch::CustomClassHolder {
  OptionsCapsule(RingAttentionOptions o, Group* g) : options(std::move(o)), sp(g) {}
  RingAttentionOptions options;
  Group* sp;  // the world owns its groups for longer than any graph
};

class RingAttentionFunction : public torch::autograd::Function<RingAttentionFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v, Group* sp_group, const RingAttentionOptions& options) {
    Group& sp = *sp_group;
    const std::int64_t batch = q.size(0), heads = q.size(1), length = q.size(2), dim = q.size(3);
    const std::int64_t kv_heads = k.size(1), groups = heads / kv_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    const at::Tensor grouped_q = q.reshape({batch, kv_heads, groups, length, dim});
    const std::vector<LocalBlock> query_blocks = rankBlocks(options, sp, sp.rank());
    std::vector<OnlineSoftmax> softmaxes;
    for (const LocalBlock& block : query_blocks) {
      softmaxes.emplace_back(queryBlockOf(grouped_q, block.local_offset, block.length, block.position), scale);
    }
    at::Tensor kv = at::stack({k, v}).contiguous();
    for (int hop = 0; hop < sp.size(); ++hop) {
      const int source = (sp.rank() - hop + sp.size()) % sp.size();
      std::optional<Hop> in_flight;
      if (hop + 1 < sp.size()) in_flight = startHop(sp, kv, hop, "ring attention key/value block " + std::to_string(hop));
      for (const LocalBlock& key_block : rankBlocks(options, sp, source)) {
        const KeyValueBlock block = keyValueBlock(kv, key_block);
        for (OnlineSoftmax& softmax : softmaxes) softmax.add(block, options.dropout);
      }
      if (in_flight) kv = in_flight->finish();
    }
    at::Tensor out = at::empty({batch, length, heads, dim}, q.options());
    const at::Tensor grouped_out = groupedFromTokenMajor(out, kv_heads);
    at::Tensor log_sum_exp = at::empty({batch, kv_heads, groups, length, 1}, q.options().dtype(at::kFloat));
    for (std::size_t b = 0; b < query_blocks.size(); ++b) {
      grouped_out.narrow(3, query_blocks[b].local_offset, query_blocks[b].length).copy_(softmaxes[b].output());
      log_sum_exp.narrow(3, query_blocks[b].local_offset, query_blocks[b].length).copy_(softmaxes[b].logSumExp());
    }
    context->saved_data["options"] = at::IValue::make_capsule(c10::make_intrusive<OptionsCapsule>(options, sp_group));
    context->save_for_backward({q, k, v, out, log_sum_exp});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list output_grads) {
    const auto capsule = context->saved_data.at("options").toCapsule();
    const auto* held = static_cast<const OptionsCapsule*>(capsule.get());
    const RingAttentionOptions& options = held->options;
    Group& sp = *held->sp;
    const auto saved = context->get_saved_variables();
    const at::Tensor& q = saved[0];
    const at::Tensor& k = saved[1];
    const at::Tensor& v = saved[2];
    const std::int64_t batch = q.size(0), heads = q.size(1), length = q.size(2), dim = q.size(3);
    const std::int64_t kv_heads = k.size(1), groups = heads / kv_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    const at::Tensor grouped_q = q.reshape({batch, kv_heads, groups, length, dim});
    const at::Tensor d_out = groupedFromTokenMajor(output_grads[0], kv_heads).to(at::kFloat);
    const at::Tensor delta = (d_out * groupedFromTokenMajor(saved[3], kv_heads).to(at::kFloat)).sum(-1, true);
    const at::Tensor& log_sum_exp = saved[4];
    const auto stats = q.options().dtype(at::kFloat);
    at::Tensor d_q = at::zeros({batch, kv_heads, groups, length, dim}, stats);

    struct QueryPart {
      QueryBlock query;
      QueryBlockGradientInput gradient;
      at::Tensor d_q;
    };
    std::vector<QueryPart> parts;
    for (const LocalBlock& block : rankBlocks(options, sp, sp.rank())) {
      const auto slice = [&](const at::Tensor& x) { return x.narrow(3, block.local_offset, block.length); };
      parts.push_back({queryBlockOf(grouped_q, block.local_offset, block.length, block.position),
                       {slice(d_out).contiguous(), slice(log_sum_exp), slice(delta)},
                       slice(d_q)});
    }
    at::Tensor kv = at::stack({k, v}).contiguous();
    std::optional<Hop> gradient_hop;  // the key/value gradients on their way to the next rank
    for (int hop = 0; hop < sp.size(); ++hop) {
      const int source = (sp.rank() - hop + sp.size()) % sp.size();
      std::optional<Hop> block_hop;
      if (hop + 1 < sp.size()) {
        block_hop = startHop(sp, kv, hop, "ring attention backward key/value block " + std::to_string(hop));
      }
      // This rank's share of the gradient of the block it holds (source's keys and values).
      at::Tensor d_kv = at::zeros(kv.sizes(), stats);
      for (const LocalBlock& key_block : rankBlocks(options, sp, source)) {
        const KeyValueBlock block = keyValueBlock(kv, key_block);
        at::Tensor d_k = d_kv[0].narrow(2, key_block.local_offset, key_block.length);
        at::Tensor d_v = d_kv[1].narrow(2, key_block.local_offset, key_block.length);
        for (QueryPart& part : parts) {
          accumulateBlockGradients(part.query, part.gradient, block, scale, options.dropout, part.d_q, d_k, d_v);
        }
      }
      // The ranks before this one on the block's way added their shares; add ours and pass it on.
      if (gradient_hop) d_kv.add_(gradient_hop->finish());
      gradient_hop = startHop(sp, d_kv, kGradientTagBase + hop,
                              "ring attention key/value gradient " + std::to_string(hop));
      if (block_hop) kv = block_hop->finish();
    }
    // After the last hop every block's summed gradient is back with the rank that owns it.
    const at::Tensor own = gradient_hop->finish();
    return {d_q.view({batch, heads, length, dim}).to(q.scalar_type()), own[0].to(k.scalar_type()),
            own[1].to(v.scalar_type()), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor ringCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, Group& sp,
                               const RingAttentionOptions& options) {
  const bool shapes = q.dim() == 4 && k.dim() == 4 && k.sizes() == v.sizes() && q.size(0) == k.size(0) &&
                      q.size(2) == k.size(2) && q.size(3) == k.size(3) && q.size(1) % k.size(1) == 0;
  if (!shapes) throw std::invalid_argument("ring attention: q must be [B, H, T, D] and k, v [B, Hkv, T, D]");
  if (q.size(2) * sp.size() != options.full_length) {
    throw std::invalid_argument("ring attention on group " + sp.label() + ": " + std::to_string(q.size(2)) +
                                " local tokens x " + std::to_string(sp.size()) + " ranks is not the sequence's " +
                                std::to_string(options.full_length));
  }
  if (options.block < 1) throw std::invalid_argument("model.attention_block: must be >= 1");
  return RingAttentionFunction::apply(q, k, v, &sp, options).transpose(1, 2);
}

}  // namespace behemoth
