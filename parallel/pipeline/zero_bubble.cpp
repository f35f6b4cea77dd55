// ZB-H1 (Qi et al. 2023, "Zero Bubble Pipeline Parallelism"): the backward of a micro-batch is
// split into backward_input (B: the activation gradient the previous stage waits for) and
// backward_weight (W: this stage's weight gradients, which nobody waits for). Ranks keep 1F1B's
// order of forwards and B's, with 1F1B's warm-up (pp - r - 1 forwards), and slot the W's into the
// time they would otherwise idle.
//
// The order is derived by a list simulation with unit costs (F = B = W = 1, no transfer time):
// at every tick a rank runs the next F or B of its 1F1B order if its input is there and, for an F,
// its activation budget allows one more micro-batch; otherwise it runs its oldest pending W (if
// any); otherwise it idles. What is left of the W's runs at the end. The order found is the
// schedule; costs that differ only move actions in time, never reorder them.
//
// The activation budget (micro-batches between forward and W) is pp on every rank, as in the
// paper: the first rank holds what it holds under 1F1B, the others hold at most as much as the
// first. A budget of pp - r (1F1B's per-rank memory) stalls the last ranks: the last one must
// finish a micro-batch's W before its next F, so the F-B chain behind it cannot shorten and the
// bubble stays well above a third of 1F1B's (docs/pipeline.md has the figures).
#include <algorithm>
#include <deque>
#include <stdexcept>

#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/pipeline/schedule_communication.h"
#include "parallel/pipeline/zero_bubble_order.h"

namespace behemoth {

std::vector<std::vector<PipelineAction>> zeroBubbleComputeOrder(const PipelineShape& shape,
                                                                const std::vector<int>& activation_budget) {
  const int pp = shape.stages;
  const int m = shape.micro_batches;
  constexpr int kNotYet = -1;

  struct Rank {
    std::vector<PipelineAction> order;  // 1F1B's forwards and backward_inputs
    std::size_t next = 0;
    std::deque<int> pending_weight;     // micro-batches whose W has not run, oldest first
    int held = 0;                       // forwards whose W has not run
    std::vector<PipelineAction> chosen;
  };
  std::vector<Rank> ranks(pp);
  for (int r = 0; r < pp; ++r) {
    const int warmup = std::min(pp - r - 1, m);
    int f = 0;
    int b = 0;
    for (; f < warmup; ++f) ranks[r].order.push_back({PipelineActionKind::forward, f, 0});
    while (f < m) {
      ranks[r].order.push_back({PipelineActionKind::forward, f++, 0});
      ranks[r].order.push_back({PipelineActionKind::backward_input, b++, 0});
    }
    while (b < m) ranks[r].order.push_back({PipelineActionKind::backward_input, b++, 0});
  }
  std::vector<std::vector<int>> forward_end(pp, std::vector<int>(m, kNotYet));
  std::vector<std::vector<int>> input_end(pp, std::vector<int>(m, kNotYet));
  const auto done_by = [&](int end, int tick) { return end != kNotYet && end <= tick; };

  // Each tick every rank either runs one unit-cost action or idles; a rank always has an F/B
  // ready or a W pending within pp ticks, so 3 m + 4 pp ticks bound any schedule this builds.
  const int limit = 3 * m + 4 * pp + 8;
  for (int tick = 0;; ++tick) {
    if (tick > limit) throw std::logic_error("zero_bubble: the order simulation did not finish (a bug in the builder)");
    bool all_done = true;
    for (int r = 0; r < pp; ++r) {
      Rank& rank = ranks[r];
      if (rank.next < rank.order.size() || !rank.pending_weight.empty()) all_done = false;
      bool ran = false;
      if (rank.next < rank.order.size()) {
        const PipelineAction& a = rank.order[rank.next];
        const bool ready = a.kind == PipelineActionKind::forward
                               ? (r == 0 || done_by(forward_end[r - 1][a.micro_batch], tick)) &&
                                     rank.held < activation_budget[r]
                               : r == pp - 1 || done_by(input_end[r + 1][a.micro_batch], tick);
        if (ready) {
          rank.chosen.push_back(a);
          if (a.kind == PipelineActionKind::forward) {
            forward_end[r][a.micro_batch] = tick + 1;
            ++rank.held;
          } else {
            input_end[r][a.micro_batch] = tick + 1;
            rank.pending_weight.push_back(a.micro_batch);
          }
          ++rank.next;
          ran = true;
        }
      }
      if (!ran && !rank.pending_weight.empty()) {
        rank.chosen.push_back({PipelineActionKind::backward_weight, rank.pending_weight.front(), 0});
        rank.pending_weight.pop_front();
        --rank.held;
      }
    }
    if (all_done) break;
  }
  std::vector<std::vector<PipelineAction>> orders;
  for (Rank& rank : ranks) orders.push_back(std::move(rank.chosen));
  return orders;
}

PipelineSchedulePlan zeroBubbleSchedule(const PipelineShape& shape) {
  checkPipelineShape(PipelineSchedule::zero_bubble, shape);
  const std::vector<int> budget(shape.stages, shape.stages);
  PipelineSchedulePlan plan;
  const auto orders = zeroBubbleComputeOrder(shape, budget);
  for (int rank = 0; rank < shape.stages; ++rank) plan.push_back(withCommunication(orders[rank], rank, shape));
  return plan;
}

}  // namespace behemoth
