// The ZeRO-3 chunk plan of a one-block GPT, every figure worked out by hand from
// /work/zero3-design.md "What the engine does" (docs/planning.md, "ZeRO-3 chunk plan").
//
// The model (d 64, 4 heads, ff 256, vocab 256, seq 64, tied): 16 tensors. Chunked (the 2-D ones):
// tok_emb 16384, pos_emb 4096, qkv.weight 12288, attn.proj.weight 4096, fc.weight 16384,
// mlp.proj.weight 16384. Kept gathered (1-D, the persistent chunk): ln1 2x64, qkv.bias 192,
// attn.proj.bias 64, ln2 2x64, fc.bias 256, mlp.proj.bias 64, ln_f 2x64 = 960 elements.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "memory/activation_memory.h"
#include "memory/chunk_layout.h"
#include "memory/chunk_plan.h"

namespace behemoth {
namespace {

ModelDescription oneBlockGpt() {
  ModelDescription m;  // the defaults are the zoo's GPT
  m.layers = 1;
  m.d_model = 64;
  m.heads = 4;
  m.kv_heads = 4;
  m.ffn_hidden = 256;
  m.vocab = 256;
  m.seq_len = 64;
  return m;
}

ModelDescription llama(int layers, int kv_heads, bool tied) {
  ModelDescription m;
  m.family = ModelFamily::llama;
  m.layers = layers;
  m.d_model = 64;
  m.heads = 4;
  m.kv_heads = kv_heads;
  m.ffn_hidden = 160;
  m.vocab = 250;
  m.seq_len = 32;
  m.tied_embeddings = tied;
  m.learned_positions = false;
  m.gated_mlp = true;
  m.biases = false;
  m.norm_bias = false;
  return m;
}

TrainingLayout zero3(int dp) {
  TrainingLayout layout;
  layout.dp = dp;
  layout.zero = 3;
  return layout;
}

std::vector<std::string> namesOf(const std::vector<PlannedTensor>& tensors) {
  std::vector<std::string> names;
  for (const PlannedTensor& t : tensors) names.push_back(t.name);
  return names;
}

TEST(PlannedTensors, GptInFirstUseOrderWithTensorParallelShards) {
  ModelDescription m = oneBlockGpt();
  m.tied_embeddings = false;
  m.vocab = 255;  // padded to 256 rows at tp 2: 128 rows per rank
  const auto tensors = plannedTensors(m, 2);
  const std::vector<std::string> expected = {
      "tok_emb.weight",         "pos_emb.weight",          "blocks.0.ln1.weight",     "blocks.0.ln1.bias",
      "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias",
      "blocks.0.ln2.weight",    "blocks.0.ln2.bias",       "blocks.0.mlp.fc.weight",  "blocks.0.mlp.fc.bias",
      "blocks.0.mlp.proj.weight", "blocks.0.mlp.proj.bias", "ln_f.weight",             "ln_f.bias",
      "lm_head.weight"};
  EXPECT_EQ(namesOf(tensors), expected);
  const std::vector<std::int64_t> numels = {128 * 64, 64 * 64, 64,  64,  96 * 64, 96, 64 * 32, 64, 64,
                                            64,       128 * 64, 128, 64 * 128, 64, 64, 64, 128 * 64};
  ASSERT_EQ(tensors.size(), numels.size());
  for (std::size_t t = 0; t < numels.size(); ++t) EXPECT_EQ(tensors[t].numel, numels[t]) << tensors[t].name;
}

TEST(PlannedTensors, LlamaReplicatesKvHeadsFewerThanRanks) {
  const auto tensors = plannedTensors(llama(2, 1, /*tied=*/false), 2);
  ASSERT_EQ(tensors.size(), 1u + 2 * 9 + 2);
  EXPECT_EQ(tensors[0].name, "tok_emb.weight");
  EXPECT_EQ(tensors[0].numel, 125 * 64);
  EXPECT_EQ(tensors[1].name, "blocks.0.attn_norm.weight");
  EXPECT_EQ(tensors[2].name, "blocks.0.attn.q.weight");
  EXPECT_EQ(tensors[2].numel, 32 * 64);
  EXPECT_EQ(tensors[3].name, "blocks.0.attn.k.weight");
  EXPECT_EQ(tensors[3].numel, 16 * 64);  // one whole head of 16 on each rank
  EXPECT_EQ(tensors[5].name, "blocks.0.attn.o.weight");
  EXPECT_EQ(tensors[5].numel, 64 * 32);
  EXPECT_EQ(tensors[7].name, "blocks.0.mlp.gate.weight");
  EXPECT_EQ(tensors[7].numel, 80 * 64);
  EXPECT_EQ(tensors[9].name, "blocks.0.mlp.down.weight");
  EXPECT_EQ(tensors[19].name, "norm_f.weight");
  EXPECT_EQ(tensors[20].name, "lm_head.weight");
  EXPECT_EQ(tensors[20].numel, 125 * 64);
}

TEST(PlannedTensors, RefusesWhatTheEngineCannotSplit) {
  try {
    plannedTensors(oneBlockGpt(), 3);
    FAIL() << "4 heads over tp 3";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model.n_head"), std::string::npos) << e.what();
  }
  ModelDescription moe = oneBlockGpt();
  moe.experts = 4;
  EXPECT_THROW(plannedTensors(moe, 1), std::invalid_argument);
}

TEST(UseSequence, ForwardThenBackwardWithTheTiedEmbeddingInTheHead) {
  const ModelDescription m = oneBlockGpt();
  const auto stages = useSequence(m, plannedTensors(m, 1));
  ASSERT_EQ(stages.size(), 6u);
  const std::vector<std::string> names = {"embed", "block 0", "head", "head", "block 0", "embed"};
  for (std::size_t s = 0; s < stages.size(); ++s) {
    EXPECT_EQ(stages[s].name, names[s]);
    EXPECT_EQ(stages[s].backward, s >= 3);
  }
  EXPECT_EQ(stages[0].tensors, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(stages[1].tensors.size(), 12u);
  EXPECT_EQ(stages[2].tensors, (std::vector<std::size_t>{0, 14, 15}));  // tok_emb, ln_f
}

// Chunks of 20480 elements at dp 2: [tok_emb | pos_emb] full, [qkv.weight | attn.proj.weight]
// 16384, [fc.weight] 16384, [mlp.proj.weight] 16384, persistent 960. Stages: embed uses chunk 0,
// block 0 chunks 1-3, the tied head chunk 0 again. Gathers per micro-batch: chunk 0 twice in
// forward (embed, head) and not again in backward (the head keeps it gathered), chunks 1-3 once in
// forward and once in backward. In backward chunk 0 stays gathered from the head down to the
// embedding: block 0's backward holds all four.
TEST(ChunkPlan, StaticTiersByHand) {
  TrainingLayout layout = zero3(2);
  layout.chunk_elements = 20480;
  layout.micro_batches = 2;
  layout.parameter_offload = 0.5;   // params of chunks 0, 1 on the host
  layout.optimizer_offload = 0.5;   // optimizer shards of chunks 1, 2 on the host
  layout.disk_optim_fraction = 0.25;  // optimizer shard of chunk 0 on disk
  const ChunkPlan plan = planChunks(oneBlockGpt(), layout);

  EXPECT_EQ(plan.chunk_elements, 20480);
  ASSERT_EQ(plan.chunks.size(), 5u);
  EXPECT_EQ(plan.chunks[0].tensors, (std::vector<std::string>{"tok_emb.weight", "pos_emb.weight"}));
  EXPECT_EQ(plan.chunks[1].tensors,
            (std::vector<std::string>{"blocks.0.attn.qkv.weight", "blocks.0.attn.proj.weight"}));
  const std::int64_t numels[] = {20480, 16384, 16384, 16384, 960};
  const int gathers[] = {2, 2, 2, 2, 0};
  const Tier params[] = {Tier::host, Tier::host, Tier::device, Tier::device, Tier::device};
  const Tier optims[] = {Tier::disk, Tier::host, Tier::host, Tier::device, Tier::device};
  // fp32 keeps a separate master only where the two shards are on different tiers.
  const bool masters[] = {true, false, true, false, false};
  for (int c = 0; c < 5; ++c) {
    EXPECT_EQ(plan.chunks[c].numel, numels[c]) << c;
    EXPECT_EQ(plan.chunks[c].capacity, c < 4 ? 20480 : 960) << c;
    EXPECT_EQ(plan.chunks[c].persistent, c == 4) << c;
    EXPECT_EQ(plan.chunks[c].gathers, gathers[c]) << c;
    EXPECT_EQ(plan.chunks[c].param_tier, params[c]) << c;
    EXPECT_EQ(plan.chunks[c].optim_tier, optims[c]) << c;
    EXPECT_EQ(plan.chunks[c].separate_master, masters[c]) << c;
  }
  EXPECT_EQ(plan.paddingElements(), 3 * 4096);
  EXPECT_EQ(plan.max_gathered_chunks, 4);
  EXPECT_EQ(plan.widest_stage, "block 0 (backward)");
  EXPECT_EQ(plan.widest_stage_gathered_bytes, 4 * 20480 * 4);

  // Shards: 10240 elements (param 40960 B, optimizer 12 B each = 122880 B, 163840 B with a
  // master); persistent 480 (param 1920 B, optimizer 5760 B, gathered 960 * 4 = 3840 B).
  EXPECT_EQ(plan.persistent_gathered_bytes, 3840);
  EXPECT_EQ(plan.tier_bytes[0], 2 * 40960 + 1920 + 122880 + 5760 + 3840);  // 216320
  EXPECT_EQ(plan.tier_bytes[1], 2 * 40960 + 122880 + 163840);              // 368640
  EXPECT_EQ(plan.tier_bytes[2], 163840);
  // The shards (744960) and the persistent chunk gathered, as the engine's model_state_bytes.
  EXPECT_EQ(plan.model_state_bytes, 4 * (40960 + 122880) + 2 * 40960 + 1920 + 5760 + 3840);
  EXPECT_EQ(plan.device_peak_bytes, 216320 + 4 * 20480 * 4);                          // 544000
  EXPECT_EQ(plan.chunks_on[0], 5);
  EXPECT_EQ(plan.chunks_on[1], 4);
  EXPECT_EQ(plan.chunks_on[2], 1);
  // Per step, 2 micro-batches:
  //   chunk 0: 2 x 2 gathers x 40960 + 2 gradients x 40960 + disk read and write 2 x 163840; its
  //            master is updated in host memory, where the parameter shard lives = 573440
  //   chunk 1: 2 x 2 x 40960 + 2 x 40960 (both parts on the host, no master) = 245760
  //   chunk 2: 2 x 40960 gradients + 40960 master to the device's parameter shard = 122880
  EXPECT_EQ(plan.moved_bytes_per_step, 573440 + 245760 + 122880);
}

TEST(ChunkPlan, Bf16HoldsEighteenBytesPerShardElementAllOnTheDevice) {
  TrainingLayout layout = zero3(4);
  layout.precision = NumericFormat::bf16;
  layout.chunk_elements = 20480;
  const ChunkPlan plan = planChunks(oneBlockGpt(), layout);
  ASSERT_EQ(plan.chunks.size(), 5u);
  // 4 regular shards of 5120 elements, the persistent one of 240: (4 * 5120 + 240) * 18 bytes,
  // plus the persistent chunk gathered in bf16 (960 * 2).
  EXPECT_EQ(plan.model_state_bytes, (4 * 5120 + 240) * 18 + 960 * 2);
  EXPECT_EQ(plan.tier_bytes[0], (4 * 5120 + 240) * 18 + 960 * 2);
  EXPECT_EQ(plan.tier_bytes[1], 0);
  EXPECT_EQ(plan.device_peak_bytes, plan.tier_bytes[0] + 4 * 20480 * 2);
  EXPECT_EQ(plan.moved_bytes_per_step, 0);  // the masters are updated beside their shards
  for (const PlannedChunk& chunk : plan.chunks) EXPECT_TRUE(chunk.separate_master);
  EXPECT_EQ(plan.chunks_on[0], 10);
}

TEST(ChunkPlan, SearchedChunkSizeIsTheLayoutsAndUntiedHeadIsGatheredOnce) {
  ModelDescription m = oneBlockGpt();
  m.tied_embeddings = false;
  const ChunkPlan plan = planChunks(m, zero3(2));
  // Chunked tensors in use order: 16384 4096 12288 4096 16384 16384 | lm_head 16384.
  EXPECT_EQ(plan.chunk_elements,
            searchChunkElements({16384, 4096, 12288, 4096, 16384, 16384, 16384}, 2));
  for (const PlannedChunk& chunk : plan.chunks) {
    if (chunk.persistent) continue;
    const bool head = chunk.tensors.back() == "lm_head.weight";
    // Without tying every chunk is used by one run of stages forward and one backward, except the
    // head's: block 0 and head forward, head and block 0 backward are adjacent (one run).
    EXPECT_EQ(chunk.gathers, head ? 1 : 2) << chunk.tensors.front();
  }
}

int paramShardsOnDevice(const ChunkPlan& plan) {
  int count = 0;
  for (const PlannedChunk& chunk : plan.chunks) count += !chunk.persistent && chunk.param_tier == Tier::device ? 1 : 0;
  return count;
}

// auto: everything but the regular parameter shards is fixed (optimizer shards by the static
// fractions, here all on the device and, under auto, each with its master: 4 x 163840 + 7680; the
// persistent shard 1920 and its gathered 3840; four chunks gathered in block 0's backward,
// 4 x 81920; one micro-batch's activations), and the shards that fit in the rest stay on the
// device, first chunks first.
TEST(ChunkPlan, AutoKeepsTheFirstParameterShardsThatFitTheBudget) {
  const ModelDescription m = oneBlockGpt();
  TrainingLayout layout = zero3(2);
  layout.chunk_elements = 20480;
  layout.placement = ChunkPolicy::automatic;
  const std::int64_t activations =
      layerActivationBytes(m, layout) + embeddingActivationBytes(m, layout) + headActivationBytes(m, layout);
  const std::int64_t fixed = 4 * 163840 + 7680 + 1920 + 3840 + 4 * 81920 + activations;
  const std::int64_t shard = 40960;
  const std::pair<std::int64_t, int> cases[] = {
      {fixed - 1, 0}, {fixed + shard - 1, 0}, {fixed + shard, 1}, {fixed + 3 * shard + 7, 3}, {fixed + 4 * shard, 4}};
  for (const auto& [budget, expected] : cases) {
    layout.device_budget_bytes = budget;
    const ChunkPlan plan = planChunks(m, layout);
    EXPECT_EQ(paramShardsOnDevice(plan), expected) << budget;
    for (int c = 0; c < 4; ++c) EXPECT_EQ(plan.chunks[c].param_tier, c < expected ? Tier::device : Tier::host) << c;
    // A host shard is copied to the device at each of its 2 gathers, and the master updated on
    // the device is copied back to it.
    const std::int64_t moved = (4 - expected) * (2 * shard + shard);
    EXPECT_EQ(plan.moved_bytes_per_step, moved) << budget;
    if (expected == 4) {
      EXPECT_EQ(plan.device_peak_bytes, fixed - activations + 4 * shard);
    }
  }
}

TEST(ChunkPlan, RefusesLayoutsWithoutChunks) {
  EXPECT_THROW(planChunks(oneBlockGpt(), TrainingLayout{}), std::invalid_argument);
  TrainingLayout pipelined = zero3(2);
  pipelined.pp = 2;
  EXPECT_THROW(planChunks(oneBlockGpt(), pipelined), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
