// Broken schedules are refused by checkSchedule with the rank and the action that is wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {
namespace {

using K = PipelineActionKind;

// The message checkSchedule refuses `plan` with ("" when it accepts it).
std::string refusal(const PipelineSchedulePlan& plan, const PipelineShape& shape) {
  try {
    checkSchedule(plan, shape);
  } catch (const std::logic_error& error) {
    return error.what();
  }
  return "";
}

void expectRefused(const PipelineSchedulePlan& plan, const PipelineShape& shape, const std::vector<std::string>& words) {
  const std::string message = refusal(plan, shape);
  ASSERT_FALSE(message.empty()) << "accepted";
  for (const std::string& word : words) EXPECT_NE(message.find(word), std::string::npos) << word << " not in: " << message;
}

TEST(PipelineScheduleErrors, SwappedOrderThatDeadlocksNamesEveryWaitingRank) {
  // Rank 0 waits for micro-batch 0's gradient before sending micro-batch 1 forward; rank 1 (the
  // last stage) was swapped to take micro-batch 1 first: each waits for the other.
  const PipelineShape shape{2, 1, 2};
  const PipelineSchedulePlan plan = {
      {{K::forward, 0, 0}, {K::send_forward, 0, 0}, {K::recv_backward, 0, 0}, {K::backward, 0, 0},
       {K::forward, 1, 0}, {K::send_forward, 1, 0}, {K::recv_backward, 1, 0}, {K::backward, 1, 0}},
      {{K::recv_forward, 1, 0}, {K::forward, 1, 0}, {K::backward, 1, 0}, {K::send_backward, 1, 0},
       {K::recv_forward, 0, 0}, {K::forward, 0, 0}, {K::backward, 0, 0}, {K::send_backward, 0, 0}}};
  expectRefused(plan, shape, {"deadlocks", "rank 0 waits in recv_backward(micro-batch 0", "rank 1 waits in recv_forward(micro-batch 1"});
  // The same lists with rank 1 in order run.
  PipelineSchedulePlan fixed = plan;
  std::rotate(fixed[1].begin(), fixed[1].begin() + 4, fixed[1].end());
  EXPECT_EQ(refusal(fixed, shape), "");
}

TEST(PipelineScheduleErrors, MissingReceiveNamesTheRank) {
  const PipelineShape shape{3, 1, 3};
  PipelineSchedulePlan plan = oneFOneBSchedule(shape);
  ASSERT_EQ(refusal(plan, shape), "");
  auto& rank2 = plan[2];
  rank2.erase(std::find(rank2.begin(), rank2.end(), PipelineAction{K::recv_forward, 1, 0}));
  expectRefused(plan, shape, {"rank 2", "forward(micro-batch 1, chunk 0)", "before its recv_forward"});
}

TEST(PipelineScheduleErrors, BackwardBeforeItsForwardNamesTheRank) {
  const PipelineShape shape{2, 1, 2};
  PipelineSchedulePlan plan = gpipeSchedule(shape);
  // Rank 1 (last stage): recv_f 0, F 0, recv_f 1, F 1, B 1, send_b 1, B 0, send_b 0 -> B 1 first.
  auto& rank1 = plan[1];
  const auto forward = std::find(rank1.begin(), rank1.end(), PipelineAction{K::forward, 1, 0});
  const auto backward = std::find(rank1.begin(), rank1.end(), PipelineAction{K::backward, 1, 0});
  std::iter_swap(forward, backward);
  expectRefused(plan, shape, {"rank 1", "backward(micro-batch 1, chunk 0)", "before its forward"});
}

TEST(PipelineScheduleErrors, WeightGradientBeforeBackwardInputNamesTheRank) {
  const PipelineShape shape{2, 1, 2};
  PipelineSchedulePlan plan = zeroBubbleSchedule(shape);
  auto& rank0 = plan[0];
  const auto input = std::find(rank0.begin(), rank0.end(), PipelineAction{K::backward_input, 0, 0});
  const auto weight = std::find(rank0.begin(), rank0.end(), PipelineAction{K::backward_weight, 0, 0});
  ASSERT_LT(input, weight);
  // Move W(0) right before B(0)'s receive.
  const PipelineAction w = *weight;
  rank0.erase(weight);
  rank0.insert(std::find(rank0.begin(), rank0.end(), PipelineAction{K::recv_backward, 0, 0}), w);
  expectRefused(plan, shape, {"rank 0", "backward_weight(micro-batch 0, chunk 0)", "before its backward_input"});
}

TEST(PipelineScheduleErrors, MissingAndRepeatedComputeNameTheRank) {
  const PipelineShape shape{2, 1, 3};
  PipelineSchedulePlan missing = oneFOneBSchedule(shape);
  auto& rank0 = missing[0];
  rank0.erase(std::remove_if(rank0.begin(), rank0.end(),
                             [](const PipelineAction& a) { return a.micro_batch == 2 && a.kind != K::send_forward && a.kind != K::forward; }),
              rank0.end());
  expectRefused(missing, shape, {"rank 0", "backward(micro-batch 2, chunk 0)", "missing"});

  PipelineSchedulePlan repeated = oneFOneBSchedule(shape);
  repeated[1].push_back({K::backward, 0, 0});
  expectRefused(repeated, shape, {"rank 1", "backward(micro-batch 0, chunk 0)", "repeated"});

  PipelineSchedulePlan zb = zeroBubbleSchedule(shape);
  zb[1].erase(std::find(zb[1].begin(), zb[1].end(), PipelineAction{K::backward_weight, 1, 0}));
  expectRefused(zb, shape, {"rank 1", "backward_weight(micro-batch 1, chunk 0)", "missing"});
}

TEST(PipelineScheduleErrors, CommunicationThatHasNoNeighbourOrNoDataNamesTheRank) {
  const PipelineShape shape{2, 1, 1};
  PipelineSchedulePlan first_receives = gpipeSchedule(shape);
  first_receives[0].insert(first_receives[0].begin(), {K::recv_forward, 0, 0});
  expectRefused(first_receives, shape, {"rank 0", "recv_forward", "first virtual stage"});

  PipelineSchedulePlan early_send = gpipeSchedule(shape);
  std::iter_swap(early_send[0].begin(), early_send[0].begin() + 1);  // send_forward before forward
  expectRefused(early_send, shape, {"rank 0", "send_forward(micro-batch 0, chunk 0)", "before its forward"});

  PipelineSchedulePlan out_of_range = gpipeSchedule(shape);
  out_of_range[1][1].micro_batch = 5;
  expectRefused(out_of_range, shape, {"rank 1", "micro-batch 5", "out of range"});

  EXPECT_THROW(checkSchedule({gpipeSchedule(shape)[0]}, shape), std::logic_error);  // one list for two ranks
}

}  // namespace
}  // namespace behemoth
