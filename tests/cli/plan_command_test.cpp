// `behemoth plan`: the per-device table, JSON that agrees with the engine's accounting, plans the
// engine cannot run yet, the search, and a model that fits nowhere.
#include <gtest/gtest.h>

#include <map>

#include "parallel/comm_counter.h"
#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

CommandResult plan(const std::string& project, std::vector<std::string> extra) {
  std::vector<std::string> args = {"plan", project, "--cpu-flops", "1e10"};
  args.insert(args.end(), extra.begin(), extra.end());
  return runBehemoth(args, std::chrono::seconds(60));
}

TEST(PlanCommand, PrintsTheTableAndJsonWithTheEngineAccounting) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out")).dump());
  const CommandResult text = plan(dir.file("p.json"), {});
  ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
  for (const char* expected : {"parameters", "optimizer", "activations", "framework", "Step time", "MFU"}) {
    EXPECT_NE(text.stdout_text.find(expected), std::string::npos) << expected << "\n" << text.stdout_text;
  }
  const CommandResult json = plan(dir.file("p.json"), {"--json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  const auto out = nlohmann::json::parse(json.stdout_text);
  const std::int64_t params = out.at("model").at("parameters").get<std::int64_t>();
  // GPT, 1 layer, d 32, 2 heads, seq 16, vocab 256, tied: embeddings + block + final norm.
  EXPECT_EQ(params, 256 * 32 + 16 * 32 + (4 * 32 * 32 + 4 * 32) + (8 * 32 * 32 + 5 * 32) + 4 * 32 + 2 * 32);
  const auto& stage = out.at("plan").at("stages").at(0);
  EXPECT_EQ(stage.at("model_state_bytes").get<std::int64_t>(), 16 * params);
  EXPECT_EQ(out.at("plan").at("comm_bytes_per_step").get<std::int64_t>(), allReduceBusBytes(4 * params, 2));
}

TEST(PlanCommand, CpuMfuIsAgainstTheMeasuredMatmulRooflineNotTheModelsOwnRate) {
  // The default project on this machine's CPUs, with the rate measured (no --cpu-flops): the peak
  // is the matmul roofline, the model reaches the calibrated fraction of it, so the MFU can never
  // exceed that fraction (it used to print 88.8 %: the model's own rate was taken as the peak).
  const CommandResult text = runBehemoth({"plan", sourceDir() + "/projects/default.json"});
  ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
  EXPECT_NE(text.stdout_text.find("measured matmul roofline per rank"), std::string::npos) << text.stdout_text;
  EXPECT_NE(text.stdout_text.find("% of the peak above"), std::string::npos) << text.stdout_text;
  const CommandResult json = runBehemoth({"plan", sourceDir() + "/projects/default.json", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  const auto out = nlohmann::json::parse(json.stdout_text);
  const double efficiency = out.at("device").at("compute_efficiency").get<double>();
  EXPECT_GT(out.at("device").at("peak_flops").get<double>(), 0.0);
  EXPECT_LT(efficiency, 1.0);
  const double mfu = out.at("plan").at("time").at("mfu").get<double>();
  EXPECT_GT(mfu, 0.0);
  EXPECT_LE(mfu, efficiency);
}

TEST(PlanCommand, PlansWhatTheEngineCannotRunYet) {
  TempDir dir;
  auto project = tinyProjectJson(dir.file("out"));
  project["model"]["n_layer"] = 4;
  project["devices"] = {{"kind", "cuda"}, {"count", 8}, {"memory_gb", 80}, {"per_node", 8}, {"name", "H100"}};
  project["parallel"] = {{"dp", -1}, {"tp", 2}, {"pp", 2}, {"zero", 3}};
  project["precision"] = "bf16";
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult result = plan(dir.file("p.json"), {"--json", "--schedule", "interleaved", "--virtual-stages", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto out = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(out.at("plan").at("stages").size(), 2u);
  EXPECT_EQ(out.at("plan").at("layout").at("dp").get<int>(), 2);
  EXPECT_EQ(out.at("plan").at("layout").at("schedule").get<std::string>(), "interleaved");
  EXPECT_TRUE(out.at("plan").at("fits").get<bool>());
}

TEST(PlanCommand, SearchSaysWhenNothingFitsAndByHowMuch) {
  TempDir dir;
  auto project = tinyProjectJson(dir.file("out"));
  project["model"] = {{"arch", "llama"}, {"n_layer", 32}, {"n_head", 32}, {"d_model", 4096}, {"d_ff", 11008},
                      {"seq_len", 4096}, {"vocab_size", 32000}};
  // 3 GB: ZeRO-3 with every chunk shard on the host still gathers chunks and keeps activations
  // (16 GB fits since the chunk plan keeps the fp32 gradient shards with the host optimizer).
  project["devices"] = {{"kind", "cuda"}, {"count", 2}, {"memory_gb", 3}, {"name", "A100"}};
  project["precision"] = "bf16";
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult result = plan(dir.file("p.json"), {"--search"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("DOES NOT FIT"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("no layout of 2 devices fits"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("GiB more than"), std::string::npos) << result.stdout_text;
}

TEST(PlanCommand, RejectsShapesThatDoNotSplit) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out")).dump());
  const CommandResult result = plan(dir.file("p.json"), {"--set", "parallel.tp=3", "--set", "devices.count=3"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("model.n_head"), std::string::npos) << result.stderr_text;
}

// The sp collectives of a `behemoth plan --json` answer, by name.
std::map<std::string, nlohmann::json> spCollectives(const nlohmann::json& out) {
  std::map<std::string, nlohmann::json> found;
  for (const auto& load : out.at("plan").at("collectives")) {
    if (load.at("axis") == "sp") found[load.at("what").get<std::string>()] = load;
  }
  return found;
}

// sp 2 on the two devices (dp 1): the project's parallel.sp_mode is the plan's unless
// --context-mode says otherwise; the table names the mode and the sp traffic, which is the
// theory's: 8 sequences x 16 tokens / 2 = 64 tokens per rank, fp32, K/V 32 wide each, one layer.
TEST(PlanCommand, SequenceParallelPlansShowTheProjectsModeAndItsTraffic) {
  TempDir dir;
  auto project = tinyProjectJson(dir.file("out"));
  project["parallel"] = {{"dp", -1}, {"sp", 2}, {"sp_mode", "ring"}};
  project["model"]["attention"] = "blockwise";  // auto would be dense for 16 tokens
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult text = plan(dir.file("p.json"), {});
  ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
  for (const char* expected : {"sp2(ring)", "blockwise attention", "Sequence split: sp 2, ring", "64 tokens per rank",
                               "ring attention K/V: 2 x 0.016 MB", "ring attention K/V gradient: 2 x 0.016 MB"}) {
    EXPECT_NE(text.stdout_text.find(expected), std::string::npos) << expected << "\n" << text.stdout_text;
  }
  const std::int64_t tokens = 8 * 16 / 2;
  const CommandResult ring = plan(dir.file("p.json"), {"--json"});
  ASSERT_EQ(ring.exit_code, 0) << ring.stderr_text;
  const auto ring_out = nlohmann::json::parse(ring.stdout_text);
  EXPECT_EQ(ring_out.at("plan").at("layout").at("context_mode"), "ring");
  auto loads = spCollectives(ring_out);
  ASSERT_EQ(loads.size(), 2u) << ring_out.at("plan").at("collectives").dump();
  // K and V hop sp - 1 times forward and again backward; their float32 gradient hops sp times
  // (the last hop brings it back to the owner).
  const nlohmann::json& kv = loads.at("ring attention K/V");
  EXPECT_EQ(kv.at("count").get<std::int64_t>(), 2 * (2 - 1));
  EXPECT_EQ(kv.at("bus_bytes").get<std::int64_t>(), 4 * tokens * 2 * 32);
  const nlohmann::json& kv_gradient = loads.at("ring attention K/V gradient");
  EXPECT_EQ(kv_gradient.at("count").get<std::int64_t>(), 2);
  EXPECT_EQ(kv_gradient.at("bus_bytes").get<std::int64_t>(), 4 * tokens * 2 * 32);

  const CommandResult ulysses = plan(dir.file("p.json"), {"--json", "--context-mode", "ulysses"});
  ASSERT_EQ(ulysses.exit_code, 0) << ulysses.stderr_text;
  const auto ulysses_out = nlohmann::json::parse(ulysses.stdout_text);
  EXPECT_EQ(ulysses_out.at("plan").at("layout").at("context_mode"), "ulysses");
  loads = spCollectives(ulysses_out);
  ASSERT_EQ(loads.size(), 1u) << ulysses_out.at("plan").at("collectives").dump();
  // Q, K, V to head shards and the output back, forward and backward: each all-to-all keeps
  // 1/sp of its payload on the rank and sends the rest.
  const nlohmann::json& all_to_all = loads.at("Ulysses all-to-all");
  EXPECT_EQ(all_to_all.at("count").get<std::int64_t>(), 2);
  EXPECT_EQ(all_to_all.at("bus_bytes").get<std::int64_t>(), allToAllBusBytes(4 * tokens * 4 * 32, 2));
}

TEST(PlanCommand, RejectsSequenceSplitsTheModeCannotMake) {
  TempDir dir;
  auto project = tinyProjectJson(dir.file("out"));
  project["devices"]["count"] = 4;
  project["parallel"] = {{"dp", -1}, {"sp", 4}, {"sp_mode", "ulysses"}};
  writeFile(dir.file("ulysses.json"), project.dump());
  // Two heads cannot be split over four ranks; ring splits the sequence instead.
  const CommandResult heads = plan(dir.file("ulysses.json"), {});
  EXPECT_EQ(heads.exit_code, 1);
  EXPECT_NE(heads.stderr_text.find("model.n_head: 2 heads cannot be split over parallel.tp x parallel.sp (1 x 4)"),
            std::string::npos)
      << heads.stderr_text;
  const CommandResult ring = plan(dir.file("ulysses.json"), {"--context-mode", "ring"});
  EXPECT_EQ(ring.exit_code, 0) << ring.stderr_text;
  // 12 tokens make four sp shards but not eight zigzag chunks.
  project["model"]["seq_len"] = 12;
  project["parallel"]["sp_mode"] = "ring";
  writeFile(dir.file("ring.json"), project.dump());
  const CommandResult chunks = plan(dir.file("ring.json"), {});
  EXPECT_EQ(chunks.exit_code, 1);
  EXPECT_NE(chunks.stderr_text.find("model.seq_len: 12 is not divisible by 2 x parallel.sp (8)"), std::string::npos)
      << chunks.stderr_text;
}

}  // namespace
}  // namespace behemoth
