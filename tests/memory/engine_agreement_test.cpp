// The model equals what the engine measures: for the layouts the engine runs (data parallel, fp32
// and bf16, with and without gradient accumulation), the predicted model_state_bytes per rank and
// comm_bytes per step equal the step events of a real multi-process training run, exactly.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "backend/planning/plan_inputs.h"
#include "memory/chunk_plan.h"
#include "parallel/comm_counter.h"
#include "parallel/plan_estimate.h"
#include "tests/support/command.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

PlanEstimate predict(Project project, int nproc) {
  project.plan.dp = -1;
  project.plan.resolve(nproc);
  // Nothing in the project says "do not clip"; grad_clip 0 does (and fp16 reduces the norm anyway).
  TrainingLayout layout = layoutFromProject(project);
  layout.clip_gradients = project.optimizer.grad_clip > 0;
  const DeviceSpec device = deviceSpec("cpu", "cpu", layout.precision);
  return estimatePlan(describeModel(project.model), layout, device, defaultAllowance("cpu"));
}

void expectPredictionMatchesRun(const Project& project, int nproc, std::int64_t state_per_param,
                                std::int64_t grad_bytes_per_param) {
  const PlanEstimate predicted = predict(project, nproc);
  const std::int64_t params = project.model.parameterCount();
  // The prediction is the documented formula...
  ASSERT_EQ(predicted.memory.stages.size(), 1u);
  EXPECT_EQ(predicted.memory.stages[0].modelStateBytes(), state_per_param * params);
  EXPECT_EQ(predicted.comm_bytes_per_step, allReduceBusBytes(grad_bytes_per_param * params, nproc));
  // ...and what the engine measures.
  const ParityRun run = trainOnRanks(project, nproc);
  ASSERT_FALSE(run.step_events.empty());
  for (const auto& event : run.step_events) {
    EXPECT_EQ(event.at("model_state_bytes").get<std::int64_t>(), predicted.memory.stages[0].modelStateBytes())
        << "step " << event.at("step");
    EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), predicted.comm_bytes_per_step) << "step " << event.at("step");
  }
}

TEST(EngineAgreement, DataParallelFp32Gpt) { expectPredictionMatchesRun(tinyProject(Arch::gpt), 2, 16, 4); }

TEST(EngineAgreement, DataParallelFp32LlamaWithAccumulation) {
  Project project = tinyProject(Arch::llama);
  project.train.micro_batch_size = 1;  // 4 micro-batches per rank: still one reduction per step
  expectPredictionMatchesRun(project, 2, 16, 4);
}

TEST(EngineAgreement, DataParallelFp32FourRanksSmallBuckets) {
  Project project = tinyProject(Arch::gpt);
  project.plan.bucket_mb = 0.01;  // several buckets sum to the one all-reduce the model counts
  expectPredictionMatchesRun(project, 4, 16, 4);
}

TEST(EngineAgreement, DataParallelBf16) {
  Project project = tinyProject(Arch::gpt);
  project.precision = Precision::bf16;
  expectPredictionMatchesRun(project, 2, 20, 2);  // bf16 gradients are what the buckets reduce
}

// parallel.reduce_dtype changes what travels, not what is held: bf16 training reducing in fp32
// moves 4 bytes per gradient, fp32 training reducing in bf16 moves 2.
TEST(EngineAgreement, DataParallelBf16ReducedInFp32) {
  Project project = tinyProject(Arch::gpt);
  project.precision = Precision::bf16;
  project.plan.reduce_dtype = "fp32";
  expectPredictionMatchesRun(project, 2, 20, 4);
}

TEST(EngineAgreement, DataParallelFp32ReducedInBf16) {
  Project project = tinyProject(Arch::gpt);
  project.plan.reduce_dtype = "bf16";
  expectPredictionMatchesRun(project, 2, 16, 2);
}

// A model whose parameter count (36069, odd) neither 2 nor 4 divides: a 2-byte all-reduce on gloo
// travels zero-padded to a multiple of the ranks (parallel/group.h), so the engine sends, counts and
// the model predicts the padded bytes; fp32's gloo all-reduce is unpadded.
TEST(EngineAgreement, DataParallelBf16ReductionOfAnIndivisibleBucketCountsItsPadding) {
  Project project = tinyProject(Arch::gpt);
  project.model.d_model = 33;
  project.model.n_head = 3;
  project.model.vocab_size = 257;
  const std::int64_t params = project.model.parameterCount();
  for (int nproc : {2, 4}) {
    for (const char* reduce_dtype : {"bf16", "fp32"}) {
      project.plan.reduce_dtype = reduce_dtype;
      ASSERT_NE(params % nproc, 0) << "the case needs a parameter count the ranks do not divide";
      const bool bf16 = std::string(reduce_dtype) == "bf16";
      const std::int64_t sent = bf16 ? paddedAllReduceBusBytes(params, 2, nproc) : allReduceBusBytes(4 * params, nproc);
      if (bf16) {
        EXPECT_GT(sent, allReduceBusBytes(2 * params, nproc)) << "the padding is counted";
      }
      const PlanEstimate predicted = predict(project, nproc);
      EXPECT_EQ(predicted.comm_bytes_per_step, sent) << nproc << " ranks, " << reduce_dtype;
      const ParityRun run = trainOnRanks(project, nproc);
      ASSERT_FALSE(run.step_events.empty());
      for (const auto& event : run.step_events) {
        EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), sent)
            << nproc << " ranks, " << reduce_dtype << ", step " << event.at("step");
      }
    }
  }
}

std::int64_t measuredCommBytes(const ParityRun& run) {
  EXPECT_FALSE(run.step_events.empty());
  std::int64_t bytes = -1;
  for (const auto& event : run.step_events) {
    const auto step_bytes = event.at("comm_bytes").get<std::int64_t>();
    if (bytes >= 0) {
      EXPECT_EQ(step_bytes, bytes) << "every step moves the same bytes";
    }
    bytes = step_bytes;
  }
  return bytes;
}

std::int64_t predictedGradientBytes(const PlanEstimate& estimate) {
  std::int64_t bytes = 0;
  for (const auto& load : estimate.collectives) {
    if (load.what.rfind("gradient all-reduce", 0) == 0 || load.what.rfind("gradient reduce-scatter", 0) == 0) {
      bytes += load.bus_bytes * load.count;
    }
  }
  return bytes;
}

// fp32 training at dp 2, gradients reduced in fp32 and then in bf16: the gradient collective (the
// all-reduce, or ZeRO's reduce-scatter) moves exactly half the bytes in bf16, in the engine's
// counter, in the planner and in the formula; ZeRO's parameter all-gather stays fp32.
TEST(EngineAgreement, Bf16ReductionMovesHalfTheFp32GradientBytesAtDp2) {
  for (int zero : {0, 1, 2}) {
    Project project = tinyProject(Arch::gpt);
    project.plan.zero = zero;
    const std::int64_t params = project.model.parameterCount();
    ASSERT_EQ(params % 2, 0);
    std::int64_t measured[2] = {0, 0};
    std::int64_t gradient[2] = {0, 0};
    const char* dtypes[2] = {"fp32", "bf16"};
    for (int i = 0; i < 2; ++i) {
      project.plan.reduce_dtype = dtypes[i];
      const PlanEstimate predicted = predict(project, 2);
      measured[i] = measuredCommBytes(trainOnRanks(project, 2));
      EXPECT_EQ(measured[i], predicted.comm_bytes_per_step) << "zero " << zero << ", " << dtypes[i];
      gradient[i] = predictedGradientBytes(predicted);
    }
    const std::int64_t element_bytes[2] = {4, 2};
    for (int i = 0; i < 2; ++i) {
      const std::int64_t formula = zero == 0 ? allReduceBusBytes(element_bytes[i] * params, 2)
                                             : reduceScatterBusBytes(element_bytes[i] * params, 2);
      EXPECT_EQ(gradient[i], formula) << "zero " << zero << ", " << dtypes[i];
    }
    EXPECT_EQ(2 * gradient[1], gradient[0]) << "zero " << zero;
    // Everything else (ZeRO's all-gather, its norm) is the same: the measured difference is half
    // the fp32 gradient bytes.
    EXPECT_EQ(measured[0] - measured[1], gradient[0] / 2) << "zero " << zero;
    if (zero == 0) {
      EXPECT_EQ(2 * measured[1], measured[0]);
    }
  }
}

// ZeRO stages 1 and 2 (docs/zero.md): sharded states padded to a multiple of dp, the engine's
// all-reduce (stage 1) or reduce-scatter (stage 2) plus the all-gather and the norm all-reduce.
// fp16 is left out on purpose: without fp16 CPU kernels the engine keeps fp32 working weights on
// a CPU (docs/zero.md), while the model describes a device that computes in fp16.
struct ZeroCase {
  int zero;
  Precision precision;
  bool offload;
  int dp;
  const char* reduce_dtype = "auto";
};

class EngineAgreementZero : public testing::TestWithParam<ZeroCase> {};

TEST_P(EngineAgreementZero, StateCommAndHostBytes) {
  const ZeroCase c = GetParam();
  Project project = tinyProject(Arch::gpt);
  project.plan.zero = c.zero;
  project.plan.offload_optimizer = c.offload;
  project.precision = c.precision;
  project.plan.reduce_dtype = c.reduce_dtype;
  const PlanEstimate predicted = predict(project, c.dp);
  const ParityRun run = trainOnRanks(project, c.dp);
  ASSERT_FALSE(run.step_events.empty());
  const StageMemory& stage = predicted.memory.stages.at(0);
  for (const auto& event : run.step_events) {
    EXPECT_EQ(event.at("model_state_bytes").get<std::int64_t>(), stage.modelStateBytes()) << "step " << event.at("step");
    EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), predicted.comm_bytes_per_step) << "step " << event.at("step");
    if (c.offload) {
      ASSERT_TRUE(event.contains("host_state_bytes"));
      EXPECT_EQ(event.at("host_state_bytes").get<std::int64_t>(), stage.hostBytes()) << "step " << event.at("step");
    }
  }
}

std::string zeroCaseName(const testing::TestParamInfo<ZeroCase>& info) {
  return "zero" + std::to_string(info.param.zero) + "_" + precisionName(info.param.precision) +
         (info.param.offload ? "_offload" : "") + "_dp" + std::to_string(info.param.dp) +
         (std::string(info.param.reduce_dtype) == "auto" ? "" : std::string("_reduce_") + info.param.reduce_dtype);
}

INSTANTIATE_TEST_SUITE_P(Layouts, EngineAgreementZero,
                         testing::Values(ZeroCase{1, Precision::fp32, false, 2}, ZeroCase{2, Precision::fp32, false, 4},
                                         ZeroCase{2, Precision::fp32, true, 2}, ZeroCase{1, Precision::bf16, false, 2},
                                         ZeroCase{2, Precision::bf16, false, 2},
                                         ZeroCase{1, Precision::bf16, true, 4},
                                         ZeroCase{2, Precision::bf16, false, 2, "fp32"},
                                         ZeroCase{1, Precision::fp32, false, 2, "bf16"}),
                         zeroCaseName);

// Tensor parallelism (docs/tensor-parallel.md): per-rank shards with the vocabulary padded, plus the
// replicated parameters; the f/g all-reduces (or SP's all-gathers and reduce-scatters), the
// vocabulary-parallel cross-entropy, SP's partial-gradient and GQA's shared kv-head all-reduces,
// and the norm over tp, next to the dp traffic.
struct TensorCase {
  Arch arch;
  int tp;
  int dp;
  bool sequence_parallel;
  int zero;
  int vocab;
};

class EngineAgreementTensorParallel : public testing::TestWithParam<TensorCase> {};

TEST_P(EngineAgreementTensorParallel, StateAndCommBytes) {
  const TensorCase c = GetParam();
  Project project = tinyProject(c.arch);
  project.model.vocab_size = c.vocab;
  project.plan.tp = c.tp;
  project.plan.sequence_parallel = c.sequence_parallel;
  project.plan.zero = c.zero;
  const int nproc = c.tp * c.dp;
  const PlanEstimate predicted = predict(project, nproc);
  const ParityRun run = trainOnRanks(project, nproc);
  ASSERT_FALSE(run.step_events.empty());
  const StageMemory& stage = predicted.memory.stages.at(0);
  // The model's parameter count per rank is what every rank holds (fp32: 4 bytes each).
  for (std::size_t rank = 0; rank < run.parameter_bytes.size(); ++rank) {
    EXPECT_EQ(run.parameter_bytes[rank], 4 * stage.parameters) << "rank " << rank;
  }
  for (const auto& event : run.step_events) {
    EXPECT_EQ(event.at("model_state_bytes").get<std::int64_t>(), stage.modelStateBytes()) << "step " << event.at("step");
    EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), predicted.comm_bytes_per_step) << "step " << event.at("step");
  }
}

std::string tensorCaseName(const testing::TestParamInfo<TensorCase>& info) {
  const TensorCase& c = info.param;
  return archName(c.arch) + "_dp" + std::to_string(c.dp) + "_tp" + std::to_string(c.tp) +
         (c.sequence_parallel ? "_sp" : "") + (c.zero ? "_zero" + std::to_string(c.zero) : "") + "_vocab" +
         std::to_string(c.vocab);
}

INSTANTIATE_TEST_SUITE_P(Layouts, EngineAgreementTensorParallel,
                         testing::Values(TensorCase{Arch::gpt, 2, 1, false, 0, 256},
                                         TensorCase{Arch::gpt, 4, 1, true, 0, 257},
                                         TensorCase{Arch::gpt, 2, 2, true, 1, 256},
                                         TensorCase{Arch::llama, 4, 1, false, 0, 257},
                                         TensorCase{Arch::llama, 4, 1, true, 0, 256},
                                         TensorCase{Arch::llama, 2, 2, false, 2, 256}),
                         tensorCaseName);

// ZeRO-3: the chunk plan the planner draws is what the engine holds and moves. For static
// placements on every tier, each rank's bytes per tier, chunk shards per tier, bytes moved between
// tiers and the step's communication equal the plan exactly.
TEST(EngineAgreement, Zero3TiersMovesAndTrafficEqualTheChunkPlan) {
  const TempDir dir;
  struct Case {
    Arch arch;
    double param_fraction;
    double optim_fraction;
    double disk_fraction;
    int micro_batch_size;
  };
  for (const Case& c : {Case{Arch::gpt, 0.0, 0.0, 0.0, 0}, Case{Arch::llama, 0.5, 0.25, 0.5, 0},
                        Case{Arch::gpt, 1.0, 1.0, 0.0, 2}}) {
    Project project = tinyProject(c.arch);
    project.plan.zero = 3;
    project.plan.chunk_mb = 0.035;
    project.plan.offload_param_fraction = c.param_fraction;
    project.plan.offload_optim_fraction = c.optim_fraction;
    project.plan.disk_optim_fraction = c.disk_fraction;
    project.plan.offload_dir = dir.path();
    project.train.micro_batch_size = c.micro_batch_size;
    SCOPED_TRACE(archName(c.arch) + " fractions " + std::to_string(c.param_fraction) + "/" +
                 std::to_string(c.optim_fraction) + "/" + std::to_string(c.disk_fraction));
    const PlanEstimate predicted = predict(project, 2);
    Project resolved = project;
    resolved.plan.dp = -1;
    resolved.plan.resolve(2);
    const ChunkPlan plan = planChunks(describeModel(project.model), layoutFromProject(resolved));
    const ParityRun run = trainOnRanks(project, 2);
    ASSERT_FALSE(run.step_events.empty());
    for (const auto& event : run.step_events) {
      for (int rank = 0; rank < 2; ++rank) {
        const auto at = [&](const char* field) { return event.at(field).at(static_cast<std::size_t>(rank)).get<std::int64_t>(); };
        EXPECT_EQ(at("rank_device_bytes"), plan.tier_bytes[0]);  // the persistent chunk gathered included
        EXPECT_EQ(at("rank_host_bytes"), plan.tier_bytes[1]);
        EXPECT_EQ(at("rank_disk_bytes"), plan.tier_bytes[2]);
        EXPECT_EQ(at("rank_device_chunks"), plan.chunks_on[0]);
        EXPECT_EQ(at("rank_host_chunks"), plan.chunks_on[1]);
        EXPECT_EQ(at("rank_disk_chunks"), plan.chunks_on[2]);
        EXPECT_EQ(at("rank_tier_moved_bytes"), plan.moved_bytes_per_step);
        EXPECT_EQ(at("rank_model_state_bytes"), plan.model_state_bytes);
      }
      EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), predicted.comm_bytes_per_step) << "step " << event.at("step");
    }
  }
}

}  // namespace
}  // namespace behemoth
