// `behemoth plan` for a ZeRO-3 project: the chunk plan in the text report and under "chunks" in
// --json, with figures worked out by hand (docs/planning.md, "ZeRO-3 chunk plan"), and the memory
// and comm models reading the same chunks.
//
// The tiny GPT (1 block, d 32, 2 heads, seq 16, vocab 256, tied) at dp 2, one micro-batch, chunks of
// 8192 elements (parallel.chunk_mb 1/32 in fp32): [tok_emb 8192], [pos_emb 512 | qkv.weight 3072 |
// attn.proj.weight 1024] (3584 padding), [fc.weight | mlp.proj.weight] 8192, and the persistent
// chunk of the 1-D tensors (480). Embed uses chunks 0 and 1, block 0 chunks 1 and 2, the tied head
// chunk 0: every chunk is gathered twice per micro-batch, and block 0's backward holds all three
// (chunk 0 stays gathered from the head down to the embedding). Fractions 0.5 of 3 regular chunks
// round to 2: chunks 0 and 1 keep both shards on the host.
#include <gtest/gtest.h>

#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

nlohmann::json zeroThreeProject(const std::string& out_dir) {
  auto project = tinyProjectJson(out_dir);
  project["parallel"] = {{"dp", -1},
                         {"zero", 3},
                         {"chunk_mb", 0.03125},
                         {"offload_param_fraction", 0.5},
                         {"offload_optim_fraction", 0.5}};
  return project;
}

TEST(PlanCommandZeroThree, ReportsTheChunkPlanInTextAndJson) {
  TempDir dir;
  writeFile(dir.file("p.json"), zeroThreeProject(dir.file("out")).dump());
  const CommandResult json = runBehemoth({"plan", dir.file("p.json"), "--cpu-flops", "1e10", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  const auto out = nlohmann::json::parse(json.stdout_text);
  const auto& chunks = out.at("chunks");
  EXPECT_EQ(chunks.at("chunk_elements").get<std::int64_t>(), 8192);
  EXPECT_EQ(chunks.at("chunk_count").get<int>(), 4);
  EXPECT_EQ(chunks.at("padding_elements").get<std::int64_t>(), 3584);
  EXPECT_EQ(chunks.at("chunks").at(3).at("capacity").get<std::int64_t>(), 480);
  EXPECT_EQ(chunks.at("chunks").at(1).at("tensors").size(), 3u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(chunks.at("chunks").at(c).at("gathers").get<int>(), 2) << c;
    EXPECT_EQ(chunks.at("chunks").at(c).at("param_tier").get<std::string>(), c < 2 ? "host" : "device") << c;
    EXPECT_EQ(chunks.at("chunks").at(c).at("optim_tier").get<std::string>(), c < 2 ? "host" : "device") << c;
  }
  // Shards of 4096 elements (persistent 240), fp32, no separate masters (each chunk's shards on
  // one tier): 4 B parameter + 12 B optimizer per element.
  // device: chunk 2 16384 + 49152, persistent 960 + 2880, the persistent chunk gathered 1920.
  EXPECT_EQ(chunks.at("tier_bytes").at("device").get<std::int64_t>(), 71296);
  EXPECT_EQ(chunks.at("tier_bytes").at("host").get<std::int64_t>(), 2 * (16384 + 49152));
  EXPECT_EQ(chunks.at("tier_bytes").at("disk").get<std::int64_t>(), 0);
  EXPECT_EQ(chunks.at("widest_stage").get<std::string>(), "block 0 (backward)");
  EXPECT_EQ(chunks.at("device_peak_bytes").get<std::int64_t>(), 71296 + 3 * 8192 * 4);
  // Chunks 0 and 1: two gathers each from the host (16384 B) and the reduced gradient shard to
  // the host (16384 B).
  EXPECT_EQ(chunks.at("moved_bytes_per_step").get<std::int64_t>(), 2 * (2 * 16384 + 16384));
  EXPECT_EQ(chunks.at("chunks_on").at("device").get<int>(), 4);
  EXPECT_EQ(chunks.at("chunks_on").at("host").get<int>(), 4);
  // The memory model's model states are the chunks' (16 B per shard element, plus the persistent
  // chunk gathered, as the engine counts model_state_bytes), the comm model's
  // bytes their collectives: 6 all-gathers and 3 reduce-scatters of 32768 B (16384 bus bytes
  // each), the persistent chunk's reduce-scatter and all-gather (960 each), the norm (8).
  const auto& stage = out.at("plan").at("stages").at(0);
  EXPECT_EQ(stage.at("model_state_bytes").get<std::int64_t>(), (3 * 4096 + 240) * 16 + 480 * 4);
  EXPECT_EQ(chunks.at("model_state_bytes").get<std::int64_t>(), (3 * 4096 + 240) * 16 + 480 * 4);
  EXPECT_EQ(stage.at("host_bytes").get<std::int64_t>(), 2 * (16384 + 49152));
  EXPECT_EQ(stage.at("terms").at("gathered chunks").at("device_bytes").get<std::int64_t>(), 3 * 8192 * 4);
  EXPECT_EQ(out.at("plan").at("comm_bytes_per_step").get<std::int64_t>(), 9 * 16384 + 2 * 960 + 8);

  const CommandResult text = runBehemoth({"plan", dir.file("p.json"), "--cpu-flops", "1e10"});
  ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
  for (const char* expected : {"ZeRO-3 chunks: 4 (3 of 8192 elements + 1 persistent of 480), padding 3584 elements",
                               "3 chunks gathered at 'block 0 (backward)'", "chunk shards: device 4, host 4, disk 0",
                               "gathered chunks", "persistent chunk"}) {
    EXPECT_NE(text.stdout_text.find(expected), std::string::npos) << expected << "\n" << text.stdout_text;
  }
}

TEST(PlanCommandZeroThree, OtherStagesPrintNoChunks) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out")).dump());
  const CommandResult json = runBehemoth({"plan", dir.file("p.json"), "--cpu-flops", "1e10", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  EXPECT_FALSE(nlohmann::json::parse(json.stdout_text).contains("chunks"));
}

}  // namespace
}  // namespace behemoth
