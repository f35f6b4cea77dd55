// What a pipeline stage holds at its peak, measured with the counting allocator: under GPipe every
// micro-batch's activations are alive before the first backward; under 1F1B stage s never holds
// more than pp - s micro-batches; zero-bubble (ZB-H1) holds at most pp on any stage, 1F1B's first
// stage's peak. The measured peaks divided by one micro-batch's bytes are exactly the planner's
// in-flight counts (memory/memory_model.h) for GPipe and 1F1B.
#include <gtest/gtest.h>

#include <iostream>

#include "memory/memory_model.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

constexpr int kStages = 4;
constexpr int kMicroBatches = 8;

// Every rank's activation bytes at its peak in the (only) step, stage order (pp is outermost).
std::vector<std::int64_t> stagePeaks(const std::string& schedule) {
  Project project = tinyProject(Arch::gpt);
  project.model.n_layer = 4;
  project.train.steps = 1;
  project.train.micro_batch_size = 1;
  project.train.measure_memory = true;
  project.plan.pp = kStages;
  project.plan.pp_schedule = schedule;
  const ParityRun run = trainOnRanks(project, kStages);
  if (run.step_events.empty()) return {};
  return run.step_events.front().at("rank_activation_bytes").get<std::vector<std::int64_t>>();
}

double plannedInFlight(PipelineSchedule schedule, int stage) {
  TrainingLayout layout;
  layout.dp = 1;
  layout.pp = kStages;
  layout.micro_batches = kMicroBatches;
  layout.schedule = schedule;
  return inFlightMicroBatches(layout, stage);
}

TEST(PipelineMemory, StagesHoldThePlannersInFlightMicroBatches) {
  const std::vector<std::int64_t> gpipe = stagePeaks("gpipe");
  const std::vector<std::int64_t> one_f_one_b = stagePeaks("1f1b");
  const std::vector<std::int64_t> zero_bubble = stagePeaks("zero_bubble");
  ASSERT_EQ(gpipe.size(), std::size_t{kStages});
  ASSERT_EQ(one_f_one_b.size(), std::size_t{kStages});
  ASSERT_EQ(zero_bubble.size(), std::size_t{kStages});
  for (int s = 0; s < kStages; ++s) {
    ASSERT_GT(gpipe[s], 0) << "stage " << s;
    // GPipe's peak is all m micro-batches of the stage: one micro-batch is gpipe / m, exactly.
    ASSERT_EQ(gpipe[s] % kMicroBatches, 0) << "stage " << s << ": " << gpipe[s];
    const std::int64_t one = gpipe[s] / kMicroBatches;
    EXPECT_EQ(plannedInFlight(PipelineSchedule::gpipe, s), double(kMicroBatches));
    EXPECT_EQ(one_f_one_b[s], static_cast<std::int64_t>(plannedInFlight(PipelineSchedule::one_f_one_b, s)) * one)
        << "stage " << s << ": 1F1B peak " << one_f_one_b[s] << ", one micro-batch " << one;
    EXPECT_EQ(plannedInFlight(PipelineSchedule::one_f_one_b, s), double(kStages - s));
    // ZB-H1 keeps a micro-batch's full activations until its backward_input, as 1F1B does, and a
    // stash (the linear layers' inputs and output gradients) until its backward_weight. Every stage
    // holds at most pp micro-batches' worth: the peak of 1F1B's first stage, ZB-H1's memory claim.
    EXPECT_GE(zero_bubble[s], static_cast<std::int64_t>(plannedInFlight(PipelineSchedule::zero_bubble, s)) * one)
        << "stage " << s;
    EXPECT_LE(zero_bubble[s], std::int64_t{kStages} * one) << "stage " << s;
    std::cout << "stage " << s << ": one micro-batch " << one << " B, gpipe " << gpipe[s] << ", 1f1b " << one_f_one_b[s]
              << ", zero_bubble " << zero_bubble[s] << "\n";
  }
}

}  // namespace
}  // namespace behemoth
