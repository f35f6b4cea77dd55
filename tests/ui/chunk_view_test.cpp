// The chunk view's rows: from a chunk plan (plain data, and the planner's plan of a ZeRO-3
// project), from the engine's measured record written here by hand in its documented format
// (docs/zero3.md), a broken record's one-line message, the rank selector of a several-rank
// record, and the widget painting tiers, padding and moves offscreen.
#include <QComboBox>
#include <QImage>
#include <QLabel>
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/planning/plan_inputs.h"
#include "backend/project/project.h"
#include "memory/chunk_plan.h"
#include "tests/ui/ui_test_support.h"
#include "ui/chunk_model.h"
#include "ui/chunk_panel.h"
#include "ui/chunk_view.h"
#include "ui/project_analysis.h"
#include "ui/run_view.h"

namespace behemoth::ui {
namespace {

// Three chunks of capacity 4096 at dp 2 (one regular chunk padded by a quarter) and the
// persistent chunk: the figures are chosen, not computed by the planner.
ChunkPlan handMadePlan() {
  ChunkPlan plan;
  plan.chunk_elements = 4096;
  plan.chunks = {
      {{"tok_emb.weight"}, 4096, 4096, false, Tier::host, Tier::disk},
      {{"blocks.0.attn.qkv.weight", "blocks.0.attn.proj.weight"}, 3072, 4096, false, Tier::device, Tier::host},
      {{"blocks.1.mlp.fc.weight"}, 4096, 4096, false, Tier::device, Tier::device},
      {{"blocks.0.ln_1.weight", "blocks.0.ln_1.bias", "ln_f.weight"}, 384, 384, true, Tier::device, Tier::device},
  };
  plan.tier_bytes[0] = 1000;
  plan.tier_bytes[1] = 2000;
  plan.tier_bytes[2] = 3000;
  plan.device_peak_bytes = 5000;
  plan.moved_bytes_per_step = 7000;
  return plan;
}

nlohmann::json moveJson(int chunk, const char* part, const char* from, const char* to, std::int64_t bytes, const char* phase,
                        const char* stage) {
  return {{"chunk", chunk}, {"part", part}, {"from", from}, {"to", to}, {"bytes", bytes}, {"phase", phase}, {"stage", stage}};
}

// A two-block record of rank `rank` in the engine's format: chunk 0's parameter shard on the
// host (gathered for the embedding, copied back to the device every step), chunk 1's optimizer
// shard on disk (read and written around the update).
nlohmann::json recordJson(int rank) {
  nlohmann::json chunks = nlohmann::json::array();
  chunks.push_back({{"index", 0}, {"tensors", {"tok_emb.weight", "pos_emb.weight"}}, {"numel", 40960}, {"capacity", 65536},
                    {"persistent", false}, {"param_tier", "host"}, {"optim_tier", "host"}});
  chunks.push_back({{"index", 1}, {"tensors", {"blocks.1.mlp.fc.weight"}}, {"numel", 65536}, {"capacity", 65536},
                    {"persistent", false}, {"param_tier", "device"}, {"optim_tier", "disk"}});
  chunks.push_back({{"index", 2}, {"tensors", {"ln_f.weight", "ln_f.bias"}}, {"numel", 256}, {"capacity", 256},
                    {"persistent", true}, {"param_tier", "device"}, {"optim_tier", "device"}});
  nlohmann::json steps = nlohmann::json::array();
  for (int step : {1, 2}) {
    nlohmann::json moves = nlohmann::json::array();
    moves.push_back(moveJson(0, "param", "host", "device", 131072, "forward", "embed"));
    moves.push_back(moveJson(0, "param", "host", "device", 131072, "backward", "embed"));
    moves.push_back(moveJson(0, "grad", "device", "host", 131072, "backward", "embed"));
    moves.push_back(moveJson(1, "grad", "device", "disk", 131072, "backward", "block 1"));
    moves.push_back(moveJson(1, "optim", "disk", "host", 393216, "update", "update"));
    moves.push_back(moveJson(1, "optim", "host", "disk", 393216, "update", "update"));
    if (step == 2) moves.push_back(moveJson(1, "param", "host", "device", 131072, "update", "update"));
    steps.push_back({{"step", step}, {"device_bytes", 700000}, {"device_peak_bytes", 950000}, {"host_bytes", 524288},
                     {"disk_bytes", 393216}, {"moved_bytes", step == 1 ? 1310720 : 1441792}, {"moves", moves}});
  }
  return {{"rank", rank}, {"dp_rank", rank}, {"dp", 2}, {"tp_rank", 0}, {"chunk_elements", 65536}, {"working_bytes", 4},
          {"placement", "static"}, {"chunks", chunks}, {"steps", steps}};
}

void writeRecord(const QString& out_dir, int rank, const nlohmann::json& record) {
  std::filesystem::create_directories(std::filesystem::path(out_dir.toStdString()) / "chunks");
  testing::writeText(QString::fromStdString(chunkRecordPath(out_dir.toStdString(), rank)), record.dump(1));
}

TEST(ChunkModel, PlanRowsKeepEachChunksTensorsSizePaddingAndTiers) {
  const ChunkChart chart = chartFromPlan(handMadePlan(), 2, 4, "static", "hand-made");
  ASSERT_TRUE(chart.drawable());
  EXPECT_FALSE(chart.measured());
  ASSERT_EQ(chart.rows.size(), 4u);
  EXPECT_EQ(chart.rows[0].param_tier, Tier::host);
  EXPECT_EQ(chart.rows[0].optim_tier, Tier::disk);
  EXPECT_EQ(chart.rows[1].optim_tier, Tier::host);
  EXPECT_EQ(chart.rows[1].padding(), 1024);
  EXPECT_DOUBLE_EQ(chart.rows[1].paddingFraction(), 0.25);
  EXPECT_EQ(chart.rows[1].tensors, (std::vector<std::string>{"blocks.0.attn.qkv.weight", "blocks.0.attn.proj.weight"}));
  EXPECT_TRUE(chart.rows[3].persistent);
  EXPECT_EQ(chart.rows[3].index, 3);
  // Shards at dp 2: 2048 elements; fp32 parameters 4 bytes each, the optimizer 12 (gradient +
  // moments) where the parameter shard is the master (same tier), 16 with a separate fp32 master
  // (tiers differ, auto placement, or bf16).
  EXPECT_EQ(paramShardBytes(chart.rows[0], chart.dp, chart.working_bytes), 8192);
  EXPECT_EQ(optimShardBytes(chart.rows[2], chart.dp, chart.working_bytes, "static"), 24576);
  EXPECT_EQ(optimShardBytes(chart.rows[0], chart.dp, chart.working_bytes, "static"), 32768);
  EXPECT_EQ(optimShardBytes(chart.rows[2], chart.dp, chart.working_bytes, "auto"), 32768);
  EXPECT_EQ(optimShardBytes(chart.rows[2], 2, 2, "static"), 32768);
  // The summary: 3 regular chunks of 16 KiB gathered, padding 1024 of 12672 elements.
  EXPECT_TRUE(chart.summary.contains("3 chunks of 4096 elements (16.0 KiB gathered) + the persistent chunk")) << chart.summary.toStdString();
  EXPECT_TRUE(chart.summary.contains("padding 8.1 %")) << chart.summary.toStdString();
  EXPECT_TRUE(chart.summary.contains("device 1000 B, host 2.0 KiB, disk 2.9 KiB")) << chart.summary.toStdString();
  EXPECT_TRUE(chart.summary.contains("6.8 KiB moved between tiers per step")) << chart.summary.toStdString();
}

TEST(ChunkModel, TensorSizesAreFilledOnlyWhenTheyAddUpToTheChunk) {
  ChunkChart chart = chartFromPlan(handMadePlan(), 2, 4, "static", "hand-made");
  applyTensorNumels(chart, {{"tok_emb.weight", 4096}, {"blocks.0.attn.qkv.weight", 2048}, {"blocks.0.attn.proj.weight", 1024},
                            {"blocks.1.mlp.fc.weight", 4000}});
  EXPECT_EQ(chart.rows[0].tensor_numels, (std::vector<std::int64_t>{4096}));
  EXPECT_EQ(chart.rows[1].tensor_numels, (std::vector<std::int64_t>{2048, 1024}));
  EXPECT_TRUE(chart.rows[2].tensor_numels.empty());  // 4000 != the chunk's 4096
  EXPECT_TRUE(chart.rows[3].tensor_numels.empty());  // names unknown
  const QString tip = rowToolTip(chart, 1, nullptr);
  EXPECT_TRUE(tip.contains("blocks.0.attn.proj.weight — 1024")) << tip.toStdString();
  EXPECT_TRUE(tip.contains("padding 1024 (25.0 %)")) << tip.toStdString();
  EXPECT_TRUE(tip.contains("parameter shard 8.0 KiB on the device · optimizer shard 32.0 KiB on the host")) << tip.toStdString();
}

TEST(ChunkModel, UseSequenceRunsForwardThenBackwardThenTheUpdate) {
  const std::vector<UseStage> sequence = stepUseSequence(2);
  std::vector<std::string> stages;
  for (const UseStage& s : sequence) stages.push_back(s.phase + ":" + s.stage);
  EXPECT_EQ(stages, (std::vector<std::string>{"forward:embed", "forward:block 0", "forward:block 1", "forward:head",
                                              "backward:head", "backward:block 1", "backward:block 0", "backward:embed",
                                              "update:update"}));
  ChunkMove move;
  move.phase = "backward";
  move.stage = "block 1";
  EXPECT_EQ(useIndexOf(sequence, move), 5);
  move.stage = "block 7";
  EXPECT_EQ(useIndexOf(sequence, move), -1);
}

TEST(ChunkModel, RecordRowsAndEachStepsMovesPerChunk) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  writeRecord(dir.path(), 0, recordJson(0));
  const ChunkChart chart = readChunkRecord(chunkRecordPath(dir.path().toStdString(), 0));
  EXPECT_TRUE(chart.measured());
  EXPECT_EQ(chart.rank, 0);
  EXPECT_EQ(chart.dp, 2);
  EXPECT_EQ(chart.chunk_elements, 65536);
  ASSERT_EQ(chart.rows.size(), 3u);
  EXPECT_EQ(chart.rows[0].tensors, (std::vector<std::string>{"tok_emb.weight", "pos_emb.weight"}));
  EXPECT_EQ(chart.rows[0].padding(), 65536 - 40960);
  EXPECT_EQ(chart.rows[0].param_tier, Tier::host);
  EXPECT_EQ(chart.rows[1].optim_tier, Tier::disk);
  EXPECT_TRUE(chart.rows[2].persistent);
  ASSERT_EQ(chart.steps.size(), 2u);
  const ChunkStep* step = chart.findStep(2);
  ASSERT_NE(step, nullptr);
  ASSERT_EQ(step->moves.size(), 3u);
  EXPECT_EQ(step->moves[0].size(), 3u);
  EXPECT_EQ(step->moves[1].size(), 4u);
  EXPECT_TRUE(step->moves[2].empty());
  EXPECT_EQ(step->moves[1][0].to, Tier::disk);
  EXPECT_EQ(step->moves[1][1].bytes, 393216);
  EXPECT_EQ(chart.findStep(1)->moves[1].size(), 3u);
  EXPECT_EQ(chart.findStep(3), nullptr);
  // Two blocks: the tensor names and the stages say so.
  EXPECT_EQ(blocksOf(chart), 2);
  EXPECT_TRUE(chart.summary.contains("2 chunks of 65536 elements (256.0 KiB gathered) + the persistent chunk"))
      << chart.summary.toStdString();
  EXPECT_TRUE(chart.summary.contains("device peak 927.7 KiB (step 2)")) << chart.summary.toStdString();
  const QString tip = rowToolTip(chart, 1, step);
  EXPECT_TRUE(tip.contains("Moves in step 2</b> (4)")) << tip.toStdString();
  EXPECT_TRUE(tip.contains("optim disk → host, 384.0 KiB, update")) << tip.toStdString();
}

TEST(ChunkModel, ABrokenRecordIsOneLineNamingTheFileAndTheField) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  nlohmann::json record = recordJson(0);
  record["chunks"][1]["param_tier"] = "gpu";
  writeRecord(dir.path(), 0, record);
  const std::string path = chunkRecordPath(dir.path().toStdString(), 0);
  try {
    readChunkRecord(path);
    FAIL() << "a record with tier 'gpu' was read";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), path + ": chunks[1].param_tier: expected device, host or disk, got 'gpu'");
  }
  record = recordJson(0);
  record["steps"][0]["moves"][2]["chunk"] = 9;
  writeRecord(dir.path(), 0, record);
  try {
    readChunkRecord(path);
    FAIL() << "a move of chunk 9 was read";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), path + ": steps[0].moves[2].chunk: 9 is not one of the 3 chunks");
  }
  record = recordJson(0);
  record.erase("working_bytes");
  writeRecord(dir.path(), 0, record);
  EXPECT_THROW(
      {
        try {
          readChunkRecord(path);
        } catch (const std::runtime_error& error) {
          EXPECT_EQ(std::string(error.what()), path + ": working_bytes: missing");
          throw;
        }
      },
      std::runtime_error);
}

TEST(ChunkModel, RecordedRanksAreTheRankFilesInOrder) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  EXPECT_TRUE(recordedChunkRanks(dir.path().toStdString()).empty());
  writeRecord(dir.path(), 1, recordJson(1));
  writeRecord(dir.path(), 0, recordJson(0));
  testing::writeText(dir.filePath("chunks/notes.txt"), "not a record");
  EXPECT_EQ(recordedChunkRanks(dir.path().toStdString()), (std::vector<int>{0, 1}));
  EXPECT_EQ(chunkRecordPath("/out", 12), "/out/chunks/rank-00012.json");
}

TEST(ChunkModel, APlannedZeroThreeProjectsRowsAreThePlannersChunks) {
  nlohmann::json json = testing::tinyProject();
  json["parallel"]["dp"] = 2;
  json["parallel"]["zero"] = 3;
  json["parallel"]["offload_param_fraction"] = 0.5;
  const ProjectAnalysis analysis = analyzeProject(json, ".");
  ASSERT_FALSE(analysis.error) << analysis.error->message;
  ASSERT_TRUE(analysis.chunk_plan);
  // The planner's plan, computed here from the same project.
  Project project = projectFromJson(json, ".");
  project.plan.resolve(project.devices.count);
  const ModelDescription model = describeModel(project.model);
  const ChunkPlan expected = planChunks(model, layoutFromProject(project));
  ASSERT_EQ(analysis.chunk_plan->chunks.size(), expected.chunks.size());

  ChunkChart chart = chartFromPlan(*analysis.chunk_plan, 2, 4, "static", "plan");
  applyTensorNumels(chart, analysis.planned_tensors);
  ASSERT_EQ(chart.rows.size(), expected.chunks.size());
  int host_params = 0;
  for (std::size_t c = 0; c < chart.rows.size(); ++c) {
    EXPECT_EQ(chart.rows[c].tensors, expected.chunks[c].tensors) << c;
    EXPECT_EQ(chart.rows[c].capacity, expected.chunks[c].capacity) << c;
    EXPECT_EQ(chart.rows[c].numel, expected.chunks[c].numel) << c;
    EXPECT_EQ(chart.rows[c].param_tier, expected.chunks[c].param_tier) << c;
    // Every tensor is named by the planner, so every row is drawn tensor by tensor.
    EXPECT_EQ(chart.rows[c].tensor_numels.size(), chart.rows[c].tensors.size()) << c;
    host_params += chart.rows[c].param_tier == Tier::host ? 1 : 0;
  }
  EXPECT_GT(host_params, 0);
}

// The colour of a pixel, ignoring alpha.
QRgb rgbAt(const QImage& image, const QPoint& point) { return image.pixel(point) & 0xFFFFFF; }

TEST(ChunkViewWidget, PaintsTierPillsHatchedPaddingAndMoveMarks) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  writeRecord(dir.path(), 0, recordJson(0));
  ChunkView view;
  view.resize(1100, 10);
  view.setChart(readChunkRecord(chunkRecordPath(dir.path().toStdString(), 0)));
  view.resize(1100, view.sizeHint().height());
  EXPECT_EQ(view.step(), 2);  // the last recorded step
  QImage image(view.size(), QImage::Format_ARGB32);
  view.render(&image);
  // Row 0: parameter shard on the host, optimizer shard on the host; row 1: device, disk.
  const QRect row0 = view.rowRect(0);
  const QRect row1 = view.rowRect(1);
  // (Sampled near each pill's left edge, clear of its label.)
  const int param_x = row0.left() + 56 + 6;
  const int optim_x = param_x + 58 + 4;
  EXPECT_EQ(rgbAt(image, {param_x, row0.top() + 7}), ChunkView::tierColor(Tier::host).rgb() & 0xFFFFFF);
  EXPECT_EQ(rgbAt(image, {optim_x, row0.top() + 7}), ChunkView::tierColor(Tier::host).rgb() & 0xFFFFFF);
  EXPECT_EQ(rgbAt(image, {optim_x, row1.top() + 7}), ChunkView::tierColor(Tier::disk).rgb() & 0xFFFFFF);
  EXPECT_EQ(rgbAt(image, {param_x, row1.top() + 7}), ChunkView::tierColor(Tier::device).rgb() & 0xFFFFFF);
  // Row 0's bar: tensors over its first 40960 / 65536, then a hatched tail (both the hatch colour
  // and the background appear there); row 1 is full, with no background inside.
  const QRect bar0 = view.barRect(0);
  const int tail_left = bar0.left() + int(bar0.width() * 40960.0 / 65536.0) + 2;
  const QRgb base = view.palette().color(QPalette::Base).rgb() & 0xFFFFFF;
  int base_pixels = 0;
  int ink_pixels = 0;
  for (int x = tail_left; x < bar0.right() - 1; ++x) {
    for (int y = bar0.top() + 1; y < bar0.bottom(); ++y) {
      (rgbAt(image, {x, y}) == base ? base_pixels : ink_pixels) += 1;
    }
  }
  EXPECT_GT(base_pixels, 0);
  EXPECT_GT(ink_pixels, 0);
  const QRect bar1 = view.barRect(1);
  for (int x = bar1.left() + 1; x < bar1.right() - 1; x += 7) EXPECT_NE(rgbAt(image, {x, bar1.center().y()}), base) << x;
  // Row 1's moves in step 2 include the gradient copy to disk in the backward of block 1 (slot
  // 5 of the 9 stages + 1 spare): a disk-coloured mark there.
  const QRect track = view.trackRect(1);
  const int slot_x = track.left() + int((5 + 0.85) * track.width() / 10.0);
  EXPECT_EQ(rgbAt(image, {slot_x, track.top() + 19}), ChunkView::tierColor(Tier::disk).rgb() & 0xFFFFFF);
  // Row 2 (the persistent chunk) never moved: its track has no tier colour.
  const QRect quiet = view.trackRect(2);
  for (int x = quiet.left() + 2; x < quiet.right() - 2; x += 5) {
    const QRgb pixel = rgbAt(image, {x, quiet.center().y()});
    for (Tier tier : {Tier::device, Tier::host, Tier::disk}) EXPECT_NE(pixel, ChunkView::tierColor(tier).rgb() & 0xFFFFFF) << x;
  }
  // Hovering a row's tooltip names its tensors.
  EXPECT_EQ(view.rowAt(row0.center()), 0);
  EXPECT_EQ(view.rowAt({row0.left(), row0.top() - 40}), -1);
}

TEST(ChunkPanelWidget, SeveralRanksGetASelectorAndEachRanksRecord) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  nlohmann::json second = recordJson(1);
  second["chunks"][0]["param_tier"] = "device";
  writeRecord(dir.path(), 0, recordJson(0));
  writeRecord(dir.path(), 1, second);
  ChunkPanel panel;
  panel.show();
  ASSERT_TRUE(panel.showRun(dir.path(), testing::tinyProject()));
  EXPECT_TRUE(panel.rankCombo()->isVisible());
  ASSERT_EQ(panel.rankCombo()->count(), 2);
  EXPECT_EQ(panel.view()->chart().rank, 0);
  EXPECT_EQ(panel.view()->chart().rows[0].param_tier, Tier::host);
  EXPECT_TRUE(panel.view()->chart().title.contains("measured"));
  EXPECT_EQ(panel.stepCombo()->count(), 2);
  EXPECT_EQ(panel.stepCombo()->currentText(), "2");
  panel.showRank(1);
  EXPECT_EQ(panel.view()->chart().rank, 1);
  EXPECT_EQ(panel.view()->chart().rows[0].param_tier, Tier::device);
  EXPECT_TRUE(panel.view()->chart().source_text.contains("rank-00001.json")) << panel.view()->chart().source_text.toStdString();
  // The step selector picks the moves drawn.
  panel.view()->setStep(1);
  EXPECT_EQ(panel.view()->shownStep()->moves[1].size(), 3u);

  // One rank: no selector. No chunks folder: nothing to show.
  QTemporaryDir single;
  ASSERT_TRUE(single.isValid());
  writeRecord(single.path(), 0, recordJson(0));
  ASSERT_TRUE(panel.showRun(single.path(), nlohmann::json()));
  EXPECT_FALSE(panel.rankCombo()->isVisible());
  QTemporaryDir empty;
  EXPECT_FALSE(panel.showRun(empty.path(), nlohmann::json()));
  EXPECT_FALSE(panel.hasRecord());
}

// The record of a real run of projects/zero3-offload.json (tests/ui/fixtures/zero3-offload-run,
// written by the engine; docs/studio.md says how) holds the planner's chunks, tiers and per-step
// figures of that project.
TEST(ChunkPanelWidget, TheShippedRecordOfTheOffloadProjectHoldsThePlannersChunks) {
  const QString project_path = testing::sourceDir() + "/projects/zero3-offload.json";
  const nlohmann::json json = readProjectJson(project_path.toStdString());
  Project project = projectFromJson(json, (testing::sourceDir() + "/projects").toStdString());
  project.plan.resolve(project.devices.count);
  const ChunkPlan plan = planChunks(describeModel(project.model), layoutFromProject(project));

  ChunkPanel panel;
  ASSERT_TRUE(panel.showRun(testing::sourceDir() + "/tests/ui/fixtures/zero3-offload-run", json));
  ASSERT_EQ(panel.rankCombo()->count(), 2);
  for (int rank : {0, 1}) {
    panel.showRank(rank);
    ASSERT_FALSE(panel.message()->isVisible()) << panel.message()->text().toStdString();
    const ChunkChart& chart = panel.view()->chart();
    ASSERT_EQ(chart.rows.size(), plan.chunks.size());
    EXPECT_EQ(chart.chunk_elements, plan.chunk_elements);
    for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
      EXPECT_EQ(chart.rows[c].tensors, plan.chunks[c].tensors) << c;
      EXPECT_EQ(chart.rows[c].numel, plan.chunks[c].numel) << c;
      EXPECT_EQ(chart.rows[c].capacity, plan.chunks[c].capacity) << c;
      EXPECT_EQ(chart.rows[c].persistent, plan.chunks[c].persistent) << c;
      EXPECT_EQ(chart.rows[c].param_tier, plan.chunks[c].param_tier) << c;
      EXPECT_EQ(chart.rows[c].optim_tier, plan.chunks[c].optim_tier) << c;
      EXPECT_EQ(chart.rows[c].tensor_numels.size(), chart.rows[c].tensors.size()) << c;
    }
    ASSERT_FALSE(chart.steps.empty());
    for (const ChunkStep& step : chart.steps) {
      EXPECT_EQ(step.device_bytes, plan.tier_bytes[0]) << step.step;
      EXPECT_EQ(step.host_bytes, plan.tier_bytes[1]) << step.step;
      EXPECT_EQ(step.disk_bytes, plan.tier_bytes[2]) << step.step;
      EXPECT_EQ(step.device_peak_bytes, plan.device_peak_bytes) << step.step;
      EXPECT_EQ(step.moved_bytes, plan.moved_bytes_per_step) << step.step;
      std::int64_t moved = 0;
      for (const auto& moves : step.moves) {
        for (const ChunkMove& move : moves) moved += move.bytes;
      }
      EXPECT_EQ(moved, step.moved_bytes) << step.step;
    }
  }
}

TEST(ChunkPanelWidget, TheRunViewShowsARecordAndTheReadersMessageForABrokenOne) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  RunView run;
  run.resize(1200, 900);
  run.show();
  run.showChunks(dir.path(), nlohmann::json());
  EXPECT_FALSE(run.chunkPanel()->isVisible());
  nlohmann::json broken = recordJson(0);
  broken["steps"][1]["moves"][0]["phase"] = "sideways";
  writeRecord(dir.path(), 0, broken);
  run.showChunks(dir.path(), nlohmann::json());
  EXPECT_TRUE(run.chunkPanel()->isVisible());
  EXPECT_TRUE(run.chunkPanel()->message()->isVisible());
  EXPECT_TRUE(run.chunkPanel()->message()->text().endsWith(
      "steps[1].moves[0].phase: expected forward, backward or update, got 'sideways'"))
      << run.chunkPanel()->message()->text().toStdString();
  writeRecord(dir.path(), 0, recordJson(0));
  run.showChunks(dir.path(), nlohmann::json());
  EXPECT_FALSE(run.chunkPanel()->message()->isVisible());
  EXPECT_EQ(run.chunkPanel()->view()->chart().rows.size(), 3u);
}

}  // namespace
}  // namespace behemoth::ui
