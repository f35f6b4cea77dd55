// ZeRO-3 must not change the math: with parameters, gradients and optimizer states in chunks
// sharded over dp and placed on the device, in host memory or on disk, training follows one
// process (losses, gradient norms, final weights, fp32, relative 1e-5) for GPT and LLaMA, at dp 2
// and 4, with accumulation, under tp 2 + SP, with static fractions 0, 0.5 and 1, part of the
// optimizer on disk, and auto placement under a device budget smaller than the model states (never
// exceeded). Model-state and communication bytes equal what the chunk layout gives, by hand.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/model/language_model.h"
#include "memory/chunk_layout.h"
#include "parallel/comm_counter.h"
#include "tests/support/command.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

// Several chunks for the tiny models: the largest tensor (GPT's 256 x 32 embedding) just fits.
constexpr double kChunkMb = 0.035;

Project zero3Project(Arch arch) {
  Project project = tinyProject(arch);
  project.plan.zero = 3;
  project.plan.chunk_mb = kChunkMb;
  project.optimizer.grad_clip = 0.05;  // every step clips: the global norm must be exact
  return project;
}

struct Zero3Case {
  Arch arch;
  int dp;
  int micro_batch_size;  // 0: no accumulation
  double chunk_mb;       // 0: searched
  std::string recompute = "none";
};

std::string caseName(const testing::TestParamInfo<Zero3Case>& info) {
  const Zero3Case& c = info.param;
  return archName(c.arch) + "_dp" + std::to_string(c.dp) + (c.micro_batch_size ? "_micro" + std::to_string(c.micro_batch_size) : "") +
         (c.chunk_mb == 0.0 ? "_searched" : "") + (c.recompute != "none" ? "_recompute_" + c.recompute : "");
}

class Zero3Parity : public testing::TestWithParam<Zero3Case> {};

TEST_P(Zero3Parity, MatchesSingleProcess) {
  const Zero3Case c = GetParam();
  Project project = tinyProject(c.arch);
  project.optimizer.grad_clip = 0.05;
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 4u);
  project.plan.zero = 3;
  project.plan.chunk_mb = c.chunk_mb;
  project.train.micro_batch_size = c.micro_batch_size;
  project.train.recompute = c.recompute;
  const ParityRun candidate = trainOnRanks(project, c.dp);
  expectSameTraining(reference, candidate, 1e-5);
  expectEveryStepClippedAlike(reference, candidate, project.optimizer.grad_clip, 4, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Layouts, Zero3Parity,
                         testing::Values(Zero3Case{Arch::gpt, 2, 0, kChunkMb}, Zero3Case{Arch::gpt, 4, 1, kChunkMb},
                                         Zero3Case{Arch::gpt, 2, 2, kChunkMb}, Zero3Case{Arch::gpt, 2, 0, 0.0},
                                         Zero3Case{Arch::gpt, 2, 2, kChunkMb, "full"},
                                         Zero3Case{Arch::llama, 2, 0, kChunkMb}, Zero3Case{Arch::llama, 4, 0, kChunkMb},
                                         Zero3Case{Arch::llama, 2, 1, kChunkMb}),
                         caseName);

TEST(Zero3Parity, TensorParallelWithSequenceParallelTimesDp2) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    Project project = tinyProject(arch);
    const ParityRun reference = trainOnRanks(project, 1);
    project.plan.tp = 2;
    project.plan.sequence_parallel = true;
    project.plan.zero = 3;
    project.plan.chunk_mb = 0.02;  // a tp shard of the embedding is half the size
    const ParityRun candidate = trainOnRanks(project, 4);
    expectSameTraining(reference, candidate, 1e-5);
    expectSameGradNorms(reference, candidate, 1e-5);
  }
}

std::int64_t last(const nlohmann::json& event, const char* field, int rank) {
  return event.at(field).at(static_cast<std::size_t>(rank)).get<std::int64_t>();
}

TEST(Zero3Placement, StaticFractionsTrainAlikeAndLiveWhereTheySay) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    SCOPED_TRACE(archName(arch));
    const Project base = zero3Project(arch);
    Project single = base;
    single.plan.zero = 0;
    const ParityRun reference = trainOnRanks(single, 1);
    std::int64_t device_at_zero = 0;
    for (double fraction : {0.0, 0.5, 1.0}) {
      Project project = base;
      project.plan.offload_param_fraction = fraction;
      project.plan.offload_optim_fraction = fraction;
      const ParityRun run = trainOnRanks(project, 2);
      expectSameTraining(reference, run, 1e-5);
      ASSERT_FALSE(run.step_events.empty());
      const nlohmann::json& event = run.step_events.back();
      const std::int64_t device = last(event, "rank_device_bytes", 0);
      const std::int64_t host = last(event, "rank_host_bytes", 0);
      EXPECT_EQ(last(event, "rank_disk_bytes", 0), 0);
      // Everything a rank holds is on one of the tiers.
      EXPECT_EQ(device + host, event.at("rank_model_state_bytes").at(0).get<std::int64_t>()) << "fraction " << fraction;
      if (fraction == 0.0) {
        EXPECT_EQ(host, 0);
        EXPECT_EQ(last(event, "rank_tier_moved_bytes", 0), 0) << "nothing leaves the device";
        device_at_zero = device;
      } else {
        EXPECT_GT(host, 0);
        EXPECT_LT(device, device_at_zero);
        EXPECT_GT(last(event, "rank_tier_moved_bytes", 0), 0) << "shards on the host are copied to the device";
      }
    }
  }
}

TEST(Zero3Placement, OptimizerShardsOnDiskTrainAlike) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("behemoth-zero3-disk-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    Project project = zero3Project(arch);
    Project single = project;
    single.plan.zero = 0;
    const ParityRun reference = trainOnRanks(single, 1);
    project.plan.offload_param_fraction = 0.5;
    project.plan.offload_optim_fraction = 0.25;
    project.plan.disk_optim_fraction = 0.5;
    project.plan.offload_dir = dir.string();
    const ParityRun run = trainOnRanks(project, 2);
    expectSameTraining(reference, run, 1e-5);
    ASSERT_FALSE(run.step_events.empty());
    const nlohmann::json& event = run.step_events.back();
    EXPECT_GT(last(event, "rank_disk_bytes", 0), 0);
    EXPECT_GT(last(event, "rank_disk_chunks", 0), 0);
    // Disk shards are staged through host memory around the update: read and written back.
    EXPECT_GE(last(event, "rank_tier_moved_bytes", 0), 2 * last(event, "rank_disk_bytes", 0));
  }
  // The tier's files are removed when training ends.
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

// A model whose states outweigh its activations, so a budget can sit below the states and above
// what one stage needs.
Project budgetProject(Arch arch) {
  Project project = zero3Project(arch);
  project.model.d_model = 64;
  project.plan.chunk_mb = 0.07;
  project.train.micro_batch_size = 1;  // small activations beside the chunks
  project.train.steps = 5;
  return project;
}

TEST(Zero3Placement, AutoStaysWithinABudgetSmallerThanTheModelStates) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    SCOPED_TRACE(archName(arch));
    Project project = budgetProject(arch);
    Project single = project;
    single.plan.zero = 0;
    const ParityRun reference = trainOnRanks(single, 1);
    project.plan.placement = "auto";
    project.plan.offload_optim_fraction = 1.0;  // auto moves parameter shards; the optimizer lives on the host
    project.plan.device_budget_mb = 0.8;
    project.plan.prefetch = 2;
    const ParityRun run = trainOnRanks(project, 2);
    expectSameTraining(reference, run, 1e-5);
    ASSERT_EQ(run.step_events.size(), 5u);
    const auto budget = static_cast<std::int64_t>(project.plan.device_budget_mb * 1024 * 1024);
    std::int64_t moved_after_trace = 0;
    for (std::size_t step = 0; step < run.step_events.size(); ++step) {
      const nlohmann::json& event = run.step_events[step];
      for (int rank = 0; rank < 2; ++rank) {
        // The states do not fit the budget: the placement has to move them.
        EXPECT_GT(event.at("rank_model_state_bytes").at(rank).get<std::int64_t>(), budget);
        // Checked at every gather and prefetch by the engine (it throws); this is the step's peak.
        EXPECT_LE(last(event, "rank_device_peak_bytes", rank), budget) << "step " << step + 1 << " rank " << rank;
        EXPECT_GT(last(event, "rank_device_peak_bytes", rank), 0);
        if (step > 0) moved_after_trace += last(event, "rank_tier_moved_bytes", rank);
      }
    }
    EXPECT_GT(moved_after_trace, 0) << "evictions and prefetches move shards between the device and the host";
    // After the traced first step, some parameter shards live on the device.
    EXPECT_GT(last(run.step_events.back(), "rank_device_chunks", 0), last(run.step_events.front(), "rank_device_chunks", 0));
  }
}

// The chunk layout the engine builds, rebuilt here from the model's tensors by first use (stage by
// stage: embeddings, blocks in order, final norm and head), for the byte figures below.
ChunkLayout layoutOf(const Project& project, int dp) {
  const auto model = buildModel(project.model, project.train.seed);
  std::vector<std::string> names;
  ChunkLayoutRequest request;
  for (const auto& item : model->named_parameters()) {
    names.push_back(item.key());
    request.numels.push_back(item.value().numel());
    request.keep_gathered.push_back(item.value().dim() < 2);
  }
  const auto stageOf = [&](const std::string& name) {
    if (name.rfind("blocks.", 0) == 0) return 1 + std::stoi(name.substr(7));
    if (name.find("emb") != std::string::npos) return 0;
    return 1000;
  };
  for (std::size_t k = 0; k < names.size(); ++k) request.first_use.push_back(k);
  std::stable_sort(request.first_use.begin(), request.first_use.end(),
                   [&](std::size_t a, std::size_t b) { return stageOf(names[a]) < stageOf(names[b]); });
  request.dp = dp;
  request.chunk_elements = static_cast<std::int64_t>(project.plan.chunk_mb * 1024 * 1024 / 4);
  return ChunkLayout(request);
}

TEST(Zero3Accounting, ModelStateAndCommunicationBytesFollowTheChunks) {
  for (int dp : {2, 4}) {
    Project project = zero3Project(Arch::llama);  // untied: every regular chunk is used by one run of stages
    const ParityRun run = trainOnRanks(project, dp);
    ASSERT_FALSE(run.step_events.empty());
    const ChunkLayout layout = layoutOf(project, dp);
    ASSERT_GT(layout.chunks().size(), 2u);
    std::int64_t regular = 0;
    std::int64_t persistent = 0;
    for (const ChunkSpec& chunk : layout.chunks()) (chunk.persistent ? persistent : regular) += chunk.capacity;
    const std::int64_t padded = regular + persistent;
    // 16 bytes per shard element (fp32 parameter, gradient, two moments) plus the persistent chunk
    // gathered: 16 Psi'/N plus the chunks in flight, which at a step's end is the persistent one.
    const std::int64_t states = 16 * padded / dp + 4 * persistent;
    EXPECT_LE(padded - project.model.parameterCount(), static_cast<std::int64_t>(layout.chunks().size()) * layout.chunkElements());
    // Per step: every regular chunk gathered in forward and once more in backward, except that the
    // head's chunk stays gathered into backward; every chunk reduce-scattered; the norm; the
    // persistent chunk gathered after the update.
    const std::int64_t head_chunk = layout.chunks()[layout.chunks().size() - 2].capacity;
    const std::int64_t comm = allGatherBusBytes(4 * (2 * regular - head_chunk), dp) +
                              reduceScatterBusBytes(4 * padded, dp) + allReduceBusBytes(8, dp) +
                              allGatherBusBytes(4 * persistent, dp);
    for (const auto& event : run.step_events) {
      EXPECT_EQ(event.at("model_state_bytes").get<std::int64_t>(), states) << "dp " << dp;
      EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), comm) << "dp " << dp;
    }
  }
}

// Checkpoints cross the ZeRO-3 boundary both ways: a ZeRO-3 run's shards (parameters split through
// chunks, some on the host) load into one process and into ZeRO-3 again, and a plain dp run's
// checkpoint loads into ZeRO-3; each continues the uninterrupted run.
TEST(Zero3Checkpoint, ResumesAcrossLayouts) {
  const TempDir dir;
  Project base = tinyProject(Arch::gpt);
  base.train.steps = 6;
  const ParityRun reference = trainOnRanks(base, 1);
  ParityRun expected = reference;
  expected.losses.assign(reference.losses.begin() + 3, reference.losses.end());
  const auto zero3 = [&](Project p) {
    p.plan.zero = 3;
    p.plan.chunk_mb = kChunkMb;
    p.plan.offload_param_fraction = 0.5;
    p.plan.offload_optim_fraction = 0.5;
    return p;
  };
  struct Case {
    const char* name;
    bool save_zero3;
    int save_nproc;
    bool load_zero3;
    int load_nproc;
  };
  for (const Case& c : {Case{"zero3-to-single", true, 2, false, 1}, Case{"zero3-to-zero3", true, 2, true, 2},
                        Case{"dp-to-zero3", false, 2, true, 2}}) {
    SCOPED_TRACE(c.name);
    Project saving = c.save_zero3 ? zero3(base) : base;
    saving.train.out_dir = dir.file(std::string("saved-") + c.name);
    saving.train.checkpoint_every = 3;
    saving.train.checkpoint_final = false;
    TrainerOptions save;
    save.write_checkpoints = true;
    expectSameTraining(reference, trainOnRanks(saving, c.save_nproc, save), 1e-5);
    Project resuming = c.load_zero3 ? zero3(base) : base;
    resuming.train.out_dir = dir.file(std::string("resumed-") + c.name);
    TrainerOptions resume;
    resume.resume_from = checkpointsDir(saving.train.out_dir) / stepDirName(3);
    const ParityRun resumed = trainOnRanks(resuming, c.load_nproc, resume);
    ASSERT_EQ(resumed.losses.size(), 3u);
    expectSameTraining(expected, resumed, 1e-5);
  }
}

}  // namespace
}  // namespace behemoth
