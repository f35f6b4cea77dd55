// Every pipeline schedule, for every shape it accepts up to pp 8: the checks pass, each compute
// action runs exactly once, peak activations agree with the memory model (or differ by the figures
// docs/pipeline.md reports), and the simulated bubbles equal the closed forms with unit costs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "memory/memory_model.h"
#include "parallel/pipeline/bubble_theory.h"
#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/pipeline/schedule_communication.h"
#include "parallel/pipeline/zero_bubble_order.h"

namespace behemoth {
namespace {

// Every shape a schedule accepts for pp 1..8, v 2..4 (interleaved), m from its minimum to 3 pp.
std::vector<PipelineShape> shapesOf(PipelineSchedule schedule) {
  std::vector<PipelineShape> shapes;
  for (int pp = 1; pp <= 8; ++pp) {
    const bool interleaved = schedule == PipelineSchedule::interleaved;
    const int first_m = schedule == PipelineSchedule::gpipe ? 1 : pp;
    for (int v = interleaved ? 2 : 1; v <= (interleaved ? 4 : 1); ++v) {
      for (int m = first_m; m <= 3 * pp; m += interleaved ? pp : 1) shapes.push_back({pp, v, m});
    }
  }
  return shapes;
}

constexpr PipelineSchedule kSchedules[] = {PipelineSchedule::gpipe, PipelineSchedule::one_f_one_b,
                                           PipelineSchedule::interleaved, PipelineSchedule::zero_bubble};

std::string shapeText(PipelineSchedule schedule, const PipelineShape& s) {
  return pipelineScheduleName(schedule) + " pp " + std::to_string(s.stages) + " v " + std::to_string(s.virtual_stages) +
         " m " + std::to_string(s.micro_batches);
}

TrainingLayout layoutOf(PipelineSchedule schedule, const PipelineShape& s) {
  TrainingLayout layout;
  layout.pp = s.stages;
  layout.schedule = schedule;
  layout.virtual_stages = s.virtual_stages;
  layout.micro_batches = s.micro_batches;
  return layout;
}

TEST(PipelineSchedules, EveryShapePassesTheChecksAndRunsEachComputeActionOnce) {
  for (PipelineSchedule schedule : kSchedules) {
    for (const PipelineShape& shape : shapesOf(schedule)) {
      SCOPED_TRACE(shapeText(schedule, shape));
      const PipelineSchedulePlan plan = buildPipelineSchedule(schedule, shape);
      ASSERT_EQ(static_cast<int>(plan.size()), shape.stages);
      EXPECT_NO_THROW(checkSchedule(plan, shape));
      for (int rank = 0; rank < shape.stages; ++rank) {
        std::map<std::tuple<PipelineActionKind, int, int>, int> count;
        for (const PipelineAction& a : plan[rank]) {
          if (isComputeAction(a.kind)) ++count[{a.kind, a.micro_batch, a.chunk}];
        }
        const bool split = schedule == PipelineSchedule::zero_bubble;
        std::size_t expected_kinds = 0;
        for (int c = 0; c < shape.virtual_stages; ++c) {
          for (int m = 0; m < shape.micro_batches; ++m) {
            EXPECT_EQ((count[{PipelineActionKind::forward, m, c}]), 1) << "rank " << rank << " mb " << m << " chunk " << c;
            if (split) {
              EXPECT_EQ((count[{PipelineActionKind::backward_input, m, c}]), 1);
              EXPECT_EQ((count[{PipelineActionKind::backward_weight, m, c}]), 1);
            } else {
              EXPECT_EQ((count[{PipelineActionKind::backward, m, c}]), 1);
            }
            expected_kinds += split ? 3 : 2;
          }
        }
        EXPECT_EQ(count.size(), expected_kinds) << "rank " << rank << " runs compute actions outside the shape";
      }
    }
  }
}

TEST(PipelineSchedules, DispatchBuildsTheNamedSchedule) {
  const PipelineShape shape{4, 1, 8};
  EXPECT_EQ(buildPipelineSchedule(PipelineSchedule::gpipe, shape), gpipeSchedule(shape));
  EXPECT_EQ(buildPipelineSchedule(PipelineSchedule::one_f_one_b, shape), oneFOneBSchedule(shape));
  EXPECT_EQ(buildPipelineSchedule(PipelineSchedule::zero_bubble, shape), zeroBubbleSchedule(shape));
  const PipelineShape chunks{4, 2, 8};
  EXPECT_EQ(buildPipelineSchedule(PipelineSchedule::interleaved, chunks), interleavedSchedule(chunks));
  EXPECT_THROW(interleavedSchedule({4, 2, 6}), std::invalid_argument);  // m not a multiple of pp
  EXPECT_THROW(interleavedSchedule({4, 1, 8}), std::invalid_argument);  // one chunk
  EXPECT_THROW(zeroBubbleSchedule({4, 1, 3}), std::invalid_argument);   // fewer micro-batches than stages
}

TEST(PipelineSchedules, InterleavedRunsMegatronsUnitOrder) {
  // pp 2, v 2, m 4: forward units k = 0..7 run (mb, chunk) (0,0) (1,0) (0,1) (1,1) (2,0) (3,0)
  // (2,1) (3,1); rank 1 warms up with (2-1-1)*2 + (2-1)*2 = 2 forwards, then alternates, and its
  // first backward is chunk 1 (the last virtual stage) of micro-batch 0.
  const PipelineSchedulePlan plan = interleavedSchedule({2, 2, 4});
  std::vector<PipelineAction> compute;
  for (const PipelineAction& a : plan[1]) {
    if (isComputeAction(a.kind)) compute.push_back(a);
  }
  using K = PipelineActionKind;
  const std::vector<PipelineAction> expected = {
      {K::forward, 0, 0}, {K::forward, 1, 0},  {K::forward, 0, 1},  {K::backward, 0, 1}, {K::forward, 1, 1},
      {K::backward, 1, 1}, {K::forward, 2, 0}, {K::backward, 0, 0}, {K::forward, 3, 0},  {K::backward, 1, 0},
      {K::forward, 2, 1}, {K::backward, 2, 1}, {K::forward, 3, 1},  {K::backward, 3, 1}, {K::backward, 2, 0},
      {K::backward, 3, 0}};
  EXPECT_EQ(compute, expected);
}

TEST(PipelineSchedules, PeakInFlightOfGPipeAnd1F1BIsTheMemoryModels) {
  for (PipelineSchedule schedule : {PipelineSchedule::gpipe, PipelineSchedule::one_f_one_b}) {
    for (const PipelineShape& shape : shapesOf(schedule)) {
      SCOPED_TRACE(shapeText(schedule, shape));
      const PipelineTimeline t = simulatePipeline(buildPipelineSchedule(schedule, shape), shape);
      for (int r = 0; r < shape.stages; ++r) {
        const int m = shape.micro_batches;
        const int expected = schedule == PipelineSchedule::gpipe ? m : std::min(m, shape.stages - r);
        EXPECT_EQ(t.peak_in_flight[r], expected) << "rank " << r;
        // The memory model counts one micro-batch at pp 1 (gradient accumulation runs each
        // micro-batch's backward right after its forward, whatever the schedule's name).
        if (shape.stages > 1) {
          EXPECT_DOUBLE_EQ(inFlightMicroBatches(layoutOf(schedule, shape), r), expected) << "rank " << r;
        }
      }
    }
  }
}

// Micro-batches a rank holds between forward and backward_input (ZB-H1) at the peak.
int peakBeforeBackwardInput(const std::vector<PipelineAction>& list) {
  int held = 0;
  int peak = 0;
  for (const PipelineAction& a : list) {
    if (a.kind == PipelineActionKind::forward) peak = std::max(peak, ++held);
    if (a.kind == PipelineActionKind::backward_input) --held;
  }
  return peak;
}

TEST(PipelineSchedules, ZeroBubbleHoldsWhat1F1BHoldsUntilBackwardInputAndAtMostPpUntilW) {
  for (const PipelineShape& shape : shapesOf(PipelineSchedule::zero_bubble)) {
    SCOPED_TRACE(shapeText(PipelineSchedule::zero_bubble, shape));
    const PipelineSchedulePlan plan = zeroBubbleSchedule(shape);
    const PipelineTimeline t = simulatePipeline(plan, shape);
    const TrainingLayout layout = layoutOf(PipelineSchedule::zero_bubble, shape);
    for (int r = 0; r < shape.stages; ++r) {
      const int one_f_one_b = std::min(shape.micro_batches, shape.stages - r);
      EXPECT_EQ(peakBeforeBackwardInput(plan[r]), one_f_one_b) << "rank " << r;
      if (shape.stages > 1) {
        EXPECT_DOUBLE_EQ(inFlightMicroBatches(layout, r), one_f_one_b);
      }
      // Until W: the first rank's 1F1B peak, on every rank (the paper's ZB-H1).
      EXPECT_EQ(t.peak_in_flight[r], std::min(shape.micro_batches, shape.stages)) << "rank " << r;
    }
  }
}

TEST(PipelineSchedules, InterleavedPeakInFlightMatchesTheMemoryModelOnTheFirstRankOnly) {
  // Rank r holds its warm-up plus one: min(m v, 2 (pp-r-1) + (v-1) pp + 1) (micro-batch, chunk)
  // pairs, i.e. that / v whole-rank micro-batches. The memory model's (p-r) + (p-1-r)/v agrees on
  // rank 0 and is r (v-1)/v lower on rank r (docs/pipeline.md has the figures).
  for (const PipelineShape& shape : shapesOf(PipelineSchedule::interleaved)) {
    if (shape.stages == 1) continue;
    SCOPED_TRACE(shapeText(PipelineSchedule::interleaved, shape));
    const int pp = shape.stages;
    const int v = shape.virtual_stages;
    const int m = shape.micro_batches;
    const PipelineTimeline t = simulatePipeline(interleavedSchedule(shape), shape);
    const TrainingLayout layout = layoutOf(PipelineSchedule::interleaved, shape);
    for (int r = 0; r < pp; ++r) {
      const int pairs = std::min(m * v, 2 * (pp - r - 1) + (v - 1) * pp + 1);
      EXPECT_EQ(t.peak_in_flight[r], pairs) << "rank " << r;
      const double model = inFlightMicroBatches(layout, r);
      if (r == 0) {
        EXPECT_DOUBLE_EQ(double(pairs) / v, model);
      } else if (pairs < m * v) {
        EXPECT_NEAR(double(pairs) / v - model, double(r) * (v - 1) / v, 1e-12) << "rank " << r;
      }
    }
  }
}

// The makespan less the rank's compute (exact with integer costs, unlike fraction x makespan).
double idleSeconds(const PipelineTimeline& t, int rank) {
  double busy = 0.0;
  for (const TimedAction& a : t.ranks[rank]) busy += a.end - a.start;
  return t.makespan - busy;
}

TEST(PipelineSchedules, GPipeAnd1F1BBubblesAreTheClosedFormExactly) {
  for (PipelineSchedule schedule : {PipelineSchedule::gpipe, PipelineSchedule::one_f_one_b}) {
    for (const PipelineShape& shape : shapesOf(schedule)) {
      SCOPED_TRACE(shapeText(schedule, shape));
      const PipelineTimeline t = simulatePipeline(buildPipelineSchedule(schedule, shape), shape);  // F 1, B 2
      const int p = shape.stages;
      const int m = shape.micro_batches;
      EXPECT_EQ(t.makespan, 3.0 * (m + p - 1));
      for (int r = 0; r < p; ++r) {
        EXPECT_EQ(idleSeconds(t, r), 3.0 * (p - 1));
        EXPECT_NEAR(t.bubble_fraction[r], double(p - 1) / (m + p - 1), 1e-12);
        EXPECT_NEAR(t.bubble_fraction[r], theoreticalBubbleFraction(schedule, shape), 1e-12);
      }
    }
  }
}

TEST(PipelineSchedules, InterleavedBubbleIsTheClosedFormAndSmallerThan1F1Bs) {
  // Unit costs per chunk (a chunk is 1/v of a rank's layers): the fill and drain are p-1 chunk
  // slots, so the makespan is 3 (v m + p - 1) and the bubble (p-1)/(v m + p-1), exactly.
  for (const PipelineShape& shape : shapesOf(PipelineSchedule::interleaved)) {
    SCOPED_TRACE(shapeText(PipelineSchedule::interleaved, shape));
    const PipelineTimeline t = simulatePipeline(interleavedSchedule(shape), shape);
    const int p = shape.stages;
    const int m = shape.micro_batches;
    const int v = shape.virtual_stages;
    EXPECT_EQ(t.makespan, 3.0 * (v * m + p - 1));
    const PipelineShape flat{p, 1, m};
    const PipelineTimeline plain = simulatePipeline(oneFOneBSchedule(flat), flat);
    for (int r = 0; r < p; ++r) {
      EXPECT_EQ(idleSeconds(t, r), 3.0 * (p - 1));
      EXPECT_NEAR(t.bubble_fraction[r], double(p - 1) / (v * m + p - 1), 1e-12);
      EXPECT_NEAR(t.bubble_fraction[r], theoreticalBubbleFraction(PipelineSchedule::interleaved, shape), 1e-12);
      if (p > 1) {
        EXPECT_LT(t.bubble_fraction[r], plain.bubble_fraction[r]);
      }
    }
  }
}

TEST(PipelineSchedules, ZeroBubbleIdlesAThirdOf1F1B) {
  // F = B = W = 1 against 1F1B's F = 1, B = 2: the same work (3 m per rank). ZB-H1 idles p-1 per
  // rank, 1F1B 3 (p-1): exactly a third of the idle time. As fractions of the makespan the ratio is
  // (m+p-1)/(3m+p-1), a little above a third, because the makespan shrinks too.
  for (int p = 2; p <= 8; ++p) {
    for (int m = p; m <= 4 * p; ++m) {
      SCOPED_TRACE("pp " + std::to_string(p) + " m " + std::to_string(m));
      const PipelineShape shape{p, 1, m};
      const PipelineTimeline zb = simulatePipeline(zeroBubbleSchedule(shape), shape);
      const PipelineTimeline base = simulatePipeline(oneFOneBSchedule(shape), shape);
      EXPECT_EQ(zb.makespan, 3.0 * m + (p - 1));
      for (int r = 0; r < p; ++r) {
        EXPECT_EQ(idleSeconds(zb, r), double(p - 1));
        EXPECT_LE(3.0 * idleSeconds(zb, r), idleSeconds(base, r));
        EXPECT_NEAR(zb.bubble_fraction[r], theoreticalBubbleFraction(PipelineSchedule::zero_bubble, shape), 1e-12);
      }
    }
  }
}

TEST(PipelineSchedules, ZeroBubbleWith1F1BsPerRankBudgetIdlesTwoThirds) {
  // Why ZB-H1 lets every rank hold pp micro-batches until W: with 1F1B's pp - r, rank r must run a
  // W before each steady-state F, and the B chain stalls behind it: 2 (p-1) idle per rank on the
  // worst rank, two thirds of 1F1B's, for every shape.
  for (int p = 2; p <= 8; ++p) {
    for (int m = p; m <= 4 * p; ++m) {
      const PipelineShape shape{p, 1, m};
      std::vector<int> budget(p);
      for (int r = 0; r < p; ++r) budget[r] = p - r;
      const auto orders = zeroBubbleComputeOrder(shape, budget);
      PipelineSchedulePlan plan;
      for (int r = 0; r < p; ++r) plan.push_back(withCommunication(orders[r], r, shape));
      const PipelineTimeline t = simulatePipeline(plan, shape);
      double worst = 0.0;
      for (int r = 0; r < p; ++r) {
        worst = std::max(worst, idleSeconds(t, r));
        EXPECT_LE(t.peak_in_flight[r], p - r);
      }
      EXPECT_EQ(worst, 2.0 * (p - 1)) << "pp " << p << " m " << m;
    }
  }
}

TEST(PipelineSimulation, TransferTimeDelaysEveryReceive) {
  // GPipe pp 2, m 2, F 1, B 2, transfer 0.5: rank 1 starts at 1.5, its backwards end at 5.5 and
  // 7.5; rank 0's backwards start when each gradient lands (6.0) and after the first (8.0).
  ActionCosts costs;
  costs.transfer = 0.5;
  const PipelineShape shape{2, 1, 2};
  const PipelineTimeline t = simulatePipeline(gpipeSchedule(shape), shape, costs);
  ASSERT_EQ(t.ranks[1].size(), 4u);
  EXPECT_EQ(t.ranks[1][0].start, 1.5);
  EXPECT_EQ(t.ranks[1][1].start, 2.5);
  EXPECT_EQ(t.ranks[1][3].end, 7.5);
  EXPECT_EQ(t.ranks[0][2].start, 6.0);
  EXPECT_EQ(t.ranks[0][3].start, 8.0);
  EXPECT_EQ(t.makespan, 10.0);
  EXPECT_DOUBLE_EQ(t.bubble_fraction[0], 1.0 - 6.0 / 10.0);
}

TEST(PipelineSimulation, EmbeddingAndHeadExtrasApplyToTheFirstAndLastVirtualStage) {
  // 1F1B pp 2, m 1: forward 1 (+0.5 on stage 0, +1 on stage 1), backward 2 (+ twice the extra).
  ActionCosts costs;
  costs.first_stage_extra = 0.5;
  costs.last_stage_extra = 1.0;
  const PipelineShape shape{2, 1, 1};
  const PipelineTimeline t = simulatePipeline(gpipeSchedule(shape), shape, costs);
  EXPECT_EQ(t.ranks[0][0].end, 1.5);
  EXPECT_EQ(t.ranks[1][0].end, 3.5);
  EXPECT_EQ(t.ranks[1][1].end, 7.5);
  EXPECT_EQ(t.ranks[0][1].end, 10.5);
  // Interleaved: only chunk 0 of rank 0 and chunk v-1 of rank pp-1 pay.
  const PipelineShape chunks{2, 2, 2};
  const PipelineTimeline i = simulatePipeline(interleavedSchedule(chunks), chunks, costs);
  for (int r = 0; r < 2; ++r) {
    for (const TimedAction& a : i.ranks[r]) {
      const int stage = a.action.chunk * 2 + r;
      const double base = a.action.kind == PipelineActionKind::forward ? 1.0 : 2.0;
      const double extra = stage == 0 ? 0.5 : stage == 3 ? 1.0 : 0.0;
      EXPECT_DOUBLE_EQ(a.end - a.start, base + (a.action.kind == PipelineActionKind::forward ? 1.0 : 2.0) * extra);
    }
  }
}

TEST(PipelineSimulation, BubbleFractionsCountComputeOnly) {
  std::vector<std::vector<TimedAction>> ranks(2);
  ranks[0].push_back({{PipelineActionKind::forward, 0, 0}, 0.0, 1.0});
  ranks[0].push_back({{PipelineActionKind::recv_backward, 0, 0}, 1.0, 3.0});  // a wait: idle
  ranks[0].push_back({{PipelineActionKind::backward, 0, 0}, 3.0, 4.0});
  ranks[1].push_back({{PipelineActionKind::forward, 0, 0}, 1.0, 2.0});
  ranks[1].push_back({{PipelineActionKind::backward, 0, 0}, 2.0, 3.0});
  const std::vector<double> f = bubbleFractions(ranks);
  EXPECT_DOUBLE_EQ(f[0], 0.5);
  EXPECT_DOUBLE_EQ(f[1], 0.5);
  EXPECT_EQ(bubbleFractions({{}, {}}), (std::vector<double>{0.0, 0.0}));
}

}  // namespace
}  // namespace behemoth
