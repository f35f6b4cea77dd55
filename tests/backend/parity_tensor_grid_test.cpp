// 2D, 2.5D and 3D tensor parallelism (docs/tensor-parallel-grid.md) must not change the math: each
// mode, alone and with dp 2 where 8 ranks allow, with accumulation, ZeRO and dropout, for GPT and
// LLaMA (grouped-query attention), follows single-process training (fp32, relative 1e-5) with
// clipping active, and ends with the same gathered weights. Per-rank parameter bytes and every
// sub-axis's comm_bytes per step equal parallel/tensor_grid/grid_cost.h exactly, and grid
// checkpoints load under other layouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/planning/plan_inputs.h"
#include "parallel/tensor_grid/grid_cost.h"
#include "tests/support/command.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

struct GridLayout {
  Arch arch;
  const char* mode;
  int tp;
  int depth;
  int dp;
  int zero;
  int micro_batch_size;  // 0: no accumulation
  double dropout;
  const char* recompute = "none";
};

std::string modeName(const char* mode) { return std::string(mode) == "2.5d" ? "2p5d" : mode; }

std::string layoutName(const testing::TestParamInfo<GridLayout>& info) {
  const GridLayout& c = info.param;
  return archName(c.arch) + "_" + modeName(c.mode) + "_tp" + std::to_string(c.tp) + "_dp" + std::to_string(c.dp) +
         (c.zero ? "_zero" + std::to_string(c.zero) : "") +
         (c.micro_batch_size ? "_micro" + std::to_string(c.micro_batch_size) : "") + (c.dropout > 0 ? "_dropout" : "") +
         (std::string(c.recompute) != "none" ? std::string("_recompute_") + c.recompute : "");
}

// The tp ranks as the grid `mode` of `tp` ranks (`depth` stacked grids for 2.5d).
Project onGrid(Project project, const char* mode, int tp, int depth) {
  project.plan.tp = tp;
  project.plan.tp_mode = mode;
  project.plan.tp_depth = depth;
  return project;
}

Project withGrid(Project project, const GridLayout& c) {
  project = onGrid(std::move(project), c.mode, c.tp, c.depth);
  project.plan.zero = c.zero;
  project.train.micro_batch_size = c.micro_batch_size;
  project.train.recompute = c.recompute;
  return project;
}

class TensorGridParity : public testing::TestWithParam<GridLayout> {};

TEST_P(TensorGridParity, MatchesSingleProcessWithClipping) {
  const GridLayout c = GetParam();
  Project project = tinyProject(c.arch);
  project.model.dropout = c.dropout;
  // Small enough that every step clips (asserted): the norm over blocks, each counted once.
  project.optimizer.grad_clip = 0.05;
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 4u);
  EXPECT_NE(reference.losses.front(), reference.losses.back());
  const ParityRun candidate = trainOnRanks(withGrid(project, c), c.dp * c.tp);
  expectSameTraining(reference, candidate, 1e-5);
  expectEveryStepClippedAlike(reference, candidate, project.optimizer.grad_clip, 4, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, TensorGridParity,
    testing::Values(GridLayout{Arch::gpt, "2d", 4, 1, 1, 0, 0, 0.0}, GridLayout{Arch::llama, "2d", 4, 1, 1, 0, 0, 0.0},
                    GridLayout{Arch::gpt, "2d", 4, 1, 2, 0, 2, 0.1}, GridLayout{Arch::llama, "2d", 4, 1, 2, 1, 2, 0.0},
                    GridLayout{Arch::gpt, "2d", 4, 1, 2, 2, 0, 0.0}, GridLayout{Arch::gpt, "2.5d", 8, 2, 1, 0, 0, 0.1},
                    GridLayout{Arch::llama, "2.5d", 8, 2, 1, 0, 4, 0.0}, GridLayout{Arch::gpt, "3d", 8, 1, 1, 0, 4, 0.0},
                    GridLayout{Arch::llama, "3d", 8, 1, 1, 0, 0, 0.1},
                    GridLayout{Arch::gpt, "3d", 8, 1, 1, 0, 0, 0.1, "full"},
                    GridLayout{Arch::llama, "2d", 4, 1, 1, 0, 0, 0.0, "full"}),
    layoutName);

// A pipeline whose stages each run their blocks on the grid: the stages exchange this rank's block
// of the residual stream, GPT's table is tied across the first and last stage, and the norm
// spans pp x tp. Four blocks, micro-batches of the grid's batch chunks; 3D and 2.5D at tp 8 x pp 2
// are 16 processes of a tiny model.
struct GridPipelineLayout {
  Arch arch;
  const char* mode;
  int tp;
  int pp;
  const char* schedule;
  int virtual_stages = 1;
  double dropout = 0.0;
  int depth = 1;  // 2.5d
};

std::string pipelineLayoutName(const testing::TestParamInfo<GridPipelineLayout>& info) {
  const GridPipelineLayout& c = info.param;
  return archName(c.arch) + "_" + modeName(c.mode) + "_tp" + std::to_string(c.tp) + "_pp" + std::to_string(c.pp) + "_" +
         c.schedule + (c.virtual_stages > 1 ? "_v" + std::to_string(c.virtual_stages) : "") + (c.dropout > 0 ? "_dropout" : "");
}

Project gridPipelineProject(const GridPipelineLayout& c) {
  Project project = tinyProject(c.arch);
  project.model.n_layer = 4;
  project.model.dropout = c.dropout;
  project.optimizer.grad_clip = 0.05;
  project.train.steps = 3;
  project.train.micro_batch_size = TensorGrid::fromPlan(c.tp, c.mode, c.depth).sampleChunks();
  return project;
}

Project withGridPipeline(Project project, const GridPipelineLayout& c) {
  project = onGrid(std::move(project), c.mode, c.tp, c.depth);
  project.plan.pp = c.pp;
  project.plan.pp_schedule = c.schedule;
  project.plan.pp_virtual = c.virtual_stages;
  return project;
}

class TensorGridPipelineParity : public testing::TestWithParam<GridPipelineLayout> {};

TEST_P(TensorGridPipelineParity, MatchesSingleProcessWithClipping) {
  const GridPipelineLayout c = GetParam();
  const Project project = gridPipelineProject(c);
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 3u);
  const ParityRun candidate = trainOnRanks(withGridPipeline(project, c), c.tp * c.pp);
  expectSameTraining(reference, candidate, 1e-5);
  expectEveryStepClippedAlike(reference, candidate, project.optimizer.grad_clip, 3, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Stages, TensorGridPipelineParity,
                         testing::Values(GridPipelineLayout{Arch::gpt, "2d", 4, 2, "1f1b", 1, 0.1},
                                         GridPipelineLayout{Arch::llama, "2d", 4, 2, "interleaved", 2},
                                         GridPipelineLayout{Arch::gpt, "2d", 4, 2, "zero_bubble"},
                                         GridPipelineLayout{Arch::llama, "2d", 4, 2, "gpipe"},
                                         GridPipelineLayout{Arch::gpt, "3d", 8, 2, "1f1b", 1, 0.1},
                                         GridPipelineLayout{Arch::llama, "2.5d", 8, 2, "1f1b", 1, 0.0, 2}),
                         pipelineLayoutName);

// The sp axis beside the grid: each grid position's sp ranks hold the same blocks and split the
// sequence (ring: zigzag chunks passing keys and values around; Ulysses: an all-to-all of each
// rank's head block), replicas of the weights like dp's.
struct GridSequenceLayout {
  Arch arch;
  const char* mode;
  int tp;
  int sp;
  const char* sp_mode;
  double dropout = 0.0;
  int depth = 1;
};

std::string sequenceLayoutName(const testing::TestParamInfo<GridSequenceLayout>& info) {
  const GridSequenceLayout& c = info.param;
  return archName(c.arch) + "_" + modeName(c.mode) + "_tp" + std::to_string(c.tp) + "_sp" + std::to_string(c.sp) + "_" +
         c.sp_mode + (c.dropout > 0 ? "_dropout" : "");
}

class TensorGridSequenceParity : public testing::TestWithParam<GridSequenceLayout> {};

TEST_P(TensorGridSequenceParity, MatchesSingleProcessWithClipping) {
  const GridSequenceLayout c = GetParam();
  Project project = tinyProject(c.arch);
  project.model.dropout = c.dropout;
  project.optimizer.grad_clip = 0.05;
  project.train.steps = 3;
  project.train.micro_batch_size = TensorGrid::fromPlan(c.tp, c.mode, c.depth).sampleChunks();
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 3u);
  project = onGrid(std::move(project), c.mode, c.tp, c.depth);
  project.plan.sp = c.sp;
  project.plan.sp_mode = c.sp_mode;
  const ParityRun candidate = trainOnRanks(project, c.tp * c.sp);
  expectSameTraining(reference, candidate, 1e-5);
  expectEveryStepClippedAlike(reference, candidate, project.optimizer.grad_clip, 3, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Axes, TensorGridSequenceParity,
                         testing::Values(GridSequenceLayout{Arch::gpt, "2d", 4, 2, "ring", 0.1},
                                         GridSequenceLayout{Arch::llama, "2d", 4, 2, "ring"},
                                         GridSequenceLayout{Arch::gpt, "2d", 4, 2, "ulysses"},
                                         GridSequenceLayout{Arch::llama, "3d", 8, 2, "ring", 0.1},
                                         GridSequenceLayout{Arch::gpt, "2.5d", 8, 2, "ulysses", 0.1, 2}),
                         sequenceLayoutName);

// A checkpoint of grid stages holds each stage's blocks; one process and a cube without stages
// continue it.
TEST(TensorGridCheckpoint, GridPipelineCheckpointsLoadWithoutStages) {
  const TempDir dir;
  const GridPipelineLayout c{Arch::gpt, "2d", 4, 2, "1f1b"};
  const Project base = gridPipelineProject(c);
  const ParityRun reference = trainOnRanks(base, 1);
  Project saving = withGridPipeline(base, c);
  saving.train.out_dir = dir.file("saved");
  saving.train.checkpoint_every = 2;
  saving.train.checkpoint_final = false;
  TrainerOptions save;
  save.write_checkpoints = true;
  expectSameTraining(reference, trainOnRanks(saving, c.tp * c.pp, save), 1e-5);
  ParityRun expected = reference;
  expected.losses.erase(expected.losses.begin(), expected.losses.begin() + 2);
  const GridPipelineLayout loading_layouts[] = {{Arch::gpt, "1d", 1, 1, "1f1b"}, {Arch::gpt, "3d", 8, 1, "1f1b"}};
  for (const GridPipelineLayout& loading : loading_layouts) {
    SCOPED_TRACE(std::string("loaded under ") + loading.mode);
    Project resuming = withGridPipeline(base, loading);
    resuming.train.micro_batch_size = 4;  // the cube's batch chunks
    resuming.train.out_dir = dir.file(std::string("resumed-") + loading.mode);
    TrainerOptions resume;
    resume.resume_from = checkpointsDir(saving.train.out_dir) / stepDirName(2);
    const ParityRun resumed = trainOnRanks(resuming, loading.tp, resume);
    ASSERT_EQ(resumed.losses.size(), 1u);
    expectSameTraining(expected, resumed, 1e-5);
  }
}

// Each stage holds and sends what grid_cost.h says of its part: rank 0 (the first stage) its
// sub-axes' bytes, and every rank its stage's parameter bytes (the last stage's tied table copy
// included).
TEST(TensorGridAccounting, EachPipelineStageHoldsAndSendsItsPartsFormula) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    SCOPED_TRACE(archName(arch));
    const GridPipelineLayout c{arch, "2d", 4, 2, "1f1b"};
    Project project = withGridPipeline(gridPipelineProject(c), c);
    project.model.vocab_size = 257;
    project.train.steps = 2;
    const ParityRun run = trainOnRanks(project, c.tp * c.pp);
    Project resolved = project;
    resolved.plan.resolve(c.tp * c.pp);
    const TensorGrid grid = TensorGrid::fromPlan(c.tp, c.mode, 1);
    std::vector<TensorParallelCost> stages;
    for (int stage = 0; stage < c.pp; ++stage) {
      TensorParallelWorkload work;
      work.micro_batch = resolved.microBatchSize();
      work.micro_batches = resolved.microBatches();
      work.layers = project.model.n_layer / c.pp;
      work.embedding = stage == 0;
      work.head = stage == c.pp - 1;
      work.stages = c.pp;
      stages.push_back(tensorParallelCost(describeModel(project.model), grid, work));
    }
    ASSERT_NE(stages[0].parameter_elements, stages[1].parameter_elements);
    std::vector<std::int64_t> expected;
    for (const TensorParallelCost& stage : stages) expected.insert(expected.end(), c.tp, 4 * stage.parameter_elements);
    std::vector<std::int64_t> measured = run.parameter_bytes;
    std::sort(measured.begin(), measured.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(measured, expected);
    ASSERT_FALSE(run.step_events.empty());
    for (const auto& event : run.step_events) {
      const auto& by_axis = event.at("comm_bytes_by_axis");
      for (const auto& [label, bytes] : stages[0].comm_bytes) {
        ASSERT_TRUE(by_axis.contains(label)) << label << " in " << by_axis.dump();
        EXPECT_EQ(by_axis.at(label).get<std::int64_t>(), bytes) << label;
      }
    }
  }
}

// The engine's counters against grid_cost.h, written from the layers' structure.
class TensorGridAccounting : public testing::TestWithParam<GridLayout> {};

TEST_P(TensorGridAccounting, ParameterAndCommBytesAreTheFormulas) {
  const GridLayout c = GetParam();
  Project project = withGrid(tinyProject(c.arch), c);
  project.model.vocab_size = 257;  // padded to a multiple of the vocabulary's blocks
  project.train.steps = 2;
  const ParityRun run = trainOnRanks(project, c.tp);
  ASSERT_EQ(run.parameter_bytes.size(), static_cast<std::size_t>(c.tp));
  const TensorGrid grid = TensorGrid::fromPlan(c.tp, c.mode, c.depth);
  Project resolved = project;
  resolved.plan.resolve(c.tp);
  TensorParallelWorkload work;
  work.micro_batch = resolved.microBatchSize();
  work.micro_batches = resolved.microBatches();
  work.element_bytes = 4;
  const TensorParallelCost cost = tensorParallelCost(describeModel(project.model), grid, work);
  for (int rank = 0; rank < c.tp; ++rank) EXPECT_EQ(run.parameter_bytes[rank], 4 * cost.parameter_elements) << "rank " << rank;
  ASSERT_FALSE(run.step_events.empty());
  for (const auto& event : run.step_events) {
    EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), cost.totalCommBytes());
    const auto& by_axis = event.at("comm_bytes_by_axis");
    for (const auto& [label, bytes] : cost.comm_bytes) {
      ASSERT_TRUE(by_axis.contains(label)) << label << " in " << by_axis.dump();
      EXPECT_EQ(by_axis.at(label).get<std::int64_t>(), bytes) << label;
    }
    EXPECT_EQ(by_axis.size(), cost.comm_bytes.size()) << by_axis.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, TensorGridAccounting,
                         testing::Values(GridLayout{Arch::gpt, "2d", 4, 1, 1, 0, 0, 0.0},
                                         GridLayout{Arch::llama, "2d", 4, 1, 1, 0, 2, 0.0},
                                         GridLayout{Arch::gpt, "2.5d", 8, 2, 1, 0, 0, 0.0},
                                         GridLayout{Arch::gpt, "3d", 8, 1, 1, 0, 0, 0.0},
                                         GridLayout{Arch::llama, "3d", 8, 1, 1, 0, 4, 0.0}),
                         layoutName);

// Beside the sp axis each rank's blocks hold seq_len / sp tokens, and the grid's collectives move
// that share: every sub-axis's bytes are the formula's with sequence_shards = sp.
TEST(TensorGridAccounting, SequenceShardsCutEverySubAxisAsTheFormulaSays) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    SCOPED_TRACE(archName(arch));
    Project project = withGrid(tinyProject(arch), GridLayout{arch, "2d", 4, 1, 1, 0, 2, 0.0});
    project.model.vocab_size = 257;
    project.plan.sp = 2;
    project.plan.sp_mode = "ring";
    project.train.steps = 2;
    const ParityRun run = trainOnRanks(project, 8);
    Project resolved = project;
    resolved.plan.resolve(8);
    TensorParallelWorkload work;
    work.micro_batch = resolved.microBatchSize();
    work.micro_batches = resolved.microBatches();
    work.sequence_shards = 2;
    const TensorGrid grid = TensorGrid::fromPlan(4, "2d", 1);
    const TensorParallelCost cost = tensorParallelCost(describeModel(project.model), grid, work);
    work.sequence_shards = 1;
    const TensorParallelCost whole = tensorParallelCost(describeModel(project.model), grid, work);
    EXPECT_LT(cost.totalCommBytes(), whole.totalCommBytes());
    ASSERT_FALSE(run.step_events.empty());
    for (const auto& event : run.step_events) {
      const auto& by_axis = event.at("comm_bytes_by_axis");
      ASSERT_TRUE(by_axis.contains("sp")) << by_axis.dump();
      for (const auto& [label, bytes] : cost.comm_bytes) {
        ASSERT_TRUE(by_axis.contains(label)) << label << " in " << by_axis.dump();
        EXPECT_EQ(by_axis.at(label).get<std::int64_t>(), bytes) << label;
      }
    }
  }
}

// The 1D formula of grid_cost.h against the engine's Megatron layers, so --explain-tp compares
// measured-equal figures on both sides.
TEST(TensorGridAccounting, OneDimensionalFormulaIsTheEngines) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    Project project = tinyProject(arch);
    project.model.vocab_size = 257;
    project.plan.tp = 4;
    project.train.steps = 2;
    const ParityRun run = trainOnRanks(project, 4);
    Project resolved = project;
    resolved.plan.resolve(4);
    TensorParallelWorkload work;
    work.micro_batch = resolved.microBatchSize();
    const TensorParallelCost cost =
        tensorParallelCost(describeModel(project.model), TensorGrid::fromPlan(4, "1d", 1), work);
    for (std::int64_t bytes : run.parameter_bytes) EXPECT_EQ(bytes, 4 * cost.parameter_elements) << archName(arch);
    for (const auto& event : run.step_events) EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), cost.totalCommBytes());
  }
}

// A grid run saves its blocks into the index format; other grids and one process continue it.
TEST(TensorGridCheckpoint, GridCheckpointsLoadUnderOtherLayouts) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    SCOPED_TRACE(archName(arch));
    const TempDir dir;
    Project base = tinyProject(arch);
    base.model.vocab_size = 257;
    base.train.steps = 4;
    const ParityRun reference = trainOnRanks(base, 1);
    const GridLayout saving_layouts[] = {{arch, "2d", 4, 1, 1, 0, 0, 0.0}, {arch, "3d", 8, 1, 1, 0, 0, 0.0}};
    for (const GridLayout& saving_layout : saving_layouts) {
      Project saving = withGrid(base, saving_layout);
      saving.train.out_dir = dir.file(std::string("saved-") + saving_layout.mode);
      saving.train.checkpoint_every = 2;
      saving.train.checkpoint_final = false;
      TrainerOptions save;
      save.write_checkpoints = true;
      expectSameTraining(reference, trainOnRanks(saving, saving_layout.tp, save), 1e-5);
      const std::filesystem::path step_dir = checkpointsDir(saving.train.out_dir) / stepDirName(2);
      ParityRun expected = reference;
      expected.losses.erase(expected.losses.begin(), expected.losses.begin() + 2);
      const GridLayout loading_layouts[] = {{arch, "1d", 1, 1, 1, 0, 0, 0.0}, {arch, "2.5d", 8, 2, 1, 0, 0, 0.0},
                                            {arch, "3d", 8, 1, 1, 0, 0, 0.0}};
      for (const GridLayout& loading_layout : loading_layouts) {
        SCOPED_TRACE(std::string("saved under ") + saving_layout.mode + ", loaded under " + loading_layout.mode);
        Project resuming = withGrid(base, loading_layout);
        resuming.train.out_dir = dir.file(std::string("resumed-") + saving_layout.mode + "-" + modeName(loading_layout.mode));
        TrainerOptions resume;
        resume.resume_from = step_dir;
        const ParityRun resumed = trainOnRanks(resuming, loading_layout.tp, resume);
        ASSERT_EQ(resumed.losses.size(), 2u);
        expectSameTraining(expected, resumed, 1e-5);
      }
    }
  }
}

// Plans that cannot run are refused before launch, naming the field.
void expectRefused(Project project, int nproc, const std::string& field) {
  try {
    validateForWorld(project, nproc);
    ADD_FAILURE() << "accepted; expected a refusal naming " << field;
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()).rfind(field + ":", 0), 0u) << error.what();
  }
}

TEST(TensorGridErrors, BadGridsAndShapesAreRefusedNamingTheField) {
  Project project = tinyProject(Arch::gpt);
  project.plan.tp_mode = "2d";
  project.plan.tp = 8;
  expectRefused(project, 8, "parallel.tp");  // not a square
  project.plan.tp_mode = "3d";
  project.plan.tp = 4;
  expectRefused(project, 4, "parallel.tp");  // not a cube
  project.plan.tp_mode = "2.5d";
  project.plan.tp = 8;
  project.plan.tp_depth = 3;
  expectRefused(project, 8, "parallel.tp_depth");  // 3 does not divide 8
  project.plan.tp_depth = 4;
  expectRefused(project, 8, "parallel.tp");  // 8 / 4 = 2 is not a square
  project.plan.tp_mode = "2d";
  project.plan.tp = 4;
  project.plan.tp_depth = 1;
  Project heads = project;
  heads.model.n_head = 3;
  heads.model.d_model = 48;
  expectRefused(heads, 4, "model.n_head");
  Project width = project;
  width.plan.tp_mode = "3d";
  width.plan.tp = 8;
  width.model.d_model = 34;  // 2 heads of 17: the 3d input features do not split into q^2 = 4
  width.model.n_head = 2;
  expectRefused(width, 8, "model.d_model");
  Project batch = project;
  batch.train.micro_batch_size = 1;
  expectRefused(batch, 4, "train.micro_batch_size");
  Project sequence = project;
  sequence.plan.sequence_parallel = true;
  expectRefused(sequence, 4, "parallel.sequence_parallel");
  Project llama = tinyProject(Arch::llama);
  llama.plan.tp_mode = "3d";
  llama.plan.tp = 8;
  llama.model.n_kv_head = 1;
  expectRefused(llama, 8, "model.n_kv_head");
  Project ulysses = project;  // 2D tp 4: each rank holds 2 of the 4 heads, which 4 sp ranks cannot split
  ulysses.plan.sp = 4;
  ulysses.plan.sp_mode = "ulysses";
  expectRefused(ulysses, 16, "model.n_head");
  Project zero3 = project;
  zero3.plan.dp = 2;
  zero3.plan.zero = 3;
  expectRefused(zero3, 8, "parallel.zero");
}

TEST(TensorGridErrors, UnknownModeIsRefusedWhenTheProjectIsRead) {
  nlohmann::json json = projectToJson(tinyProject(Arch::gpt));
  json["parallel"]["tp_mode"] = "4d";
  try {
    projectFromJson(json);
    ADD_FAILURE() << "accepted tp_mode 4d";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("parallel.tp_mode"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace behemoth
