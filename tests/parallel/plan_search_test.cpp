// The search: every returned plan fits and they are ranked by throughput; a 70B model on 64 GPUs
// is searched in seconds; a model that fits nowhere gets the closest miss and its shortfall.
// Also the communication model's volumes against the published ones.
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "parallel/comm_counter.h"
#include "parallel/comm_model.h"
#include "parallel/plan_search.h"

namespace behemoth {
namespace {

ModelDescription llama(int layers, int heads, int kv_heads, int d_model, int ffn) {
  ModelDescription m;
  m.family = ModelFamily::llama;
  m.layers = layers;
  m.heads = heads;
  m.kv_heads = kv_heads;
  m.d_model = d_model;
  m.ffn_hidden = ffn;
  m.vocab = 32000;
  m.seq_len = 4096;
  m.tied_embeddings = false;
  m.learned_positions = false;
  m.gated_mlp = true;
  m.biases = false;
  m.norm_bias = false;
  return m;
}

SearchRequest h100s(const ModelDescription& model, int devices, std::int64_t batch) {
  SearchRequest request;
  request.model = model;
  request.device = deviceSpec("cuda", "H100", NumericFormat::bf16);
  request.device.memory_bytes = 80e9;
  request.allowance = defaultAllowance("cuda");
  request.devices = devices;
  request.global_batch = batch;
  request.base.precision = NumericFormat::bf16;
  return request;
}

TEST(PlanSearch, SeventyBillionOnSixtyFourGpusIsFastAndRanked) {
  const SearchRequest request = h100s(llama(80, 64, 8, 8192, 28672), 64, 512);
  const SearchResult result = searchPlans(request);
  EXPECT_LT(result.seconds, 5.0) << result.evaluated << " layouts";
  ASSERT_TRUE(result.anythingFits()) << result.message;
  ASSERT_EQ(result.best.size(), 5u);
  for (std::size_t k = 0; k < result.best.size(); ++k) {
    const PlanEstimate& e = result.best[k].estimate;
    EXPECT_TRUE(e.fits());
    EXPECT_LE(e.memory.peakDeviceBytes(), 80e9);
    EXPECT_EQ(e.layout.worldSize(), 64);
    EXPECT_EQ(e.layout.globalBatch(), 512);
    EXPECT_FALSE(result.best[k].reason.empty());
    if (k > 0) {
      EXPECT_GE(result.best[k - 1].estimate.time.tokens_per_s, e.time.tokens_per_s);
    }
    // MFU cannot exceed the achievable fraction of peak.
    EXPECT_LE(e.time.mfu, request.device.compute_efficiency);
  }
  // 70B does not fit without sharding: plain data parallel is never chosen.
  const TrainingLayout& best = result.best[0].estimate.layout;
  EXPECT_TRUE(best.tp > 1 || best.pp > 1 || best.zero > 0);
  EXPECT_GT(result.evaluated, 1000);
}

TEST(PlanSearch, NothingFitsSaysByHowMuch) {
  SearchRequest request = h100s(llama(80, 64, 8, 8192, 28672), 1, 8);
  request.allow_offload = false;
  const SearchResult result = searchPlans(request);
  EXPECT_FALSE(result.anythingFits());
  ASSERT_TRUE(result.closest.has_value());
  const PlanEstimate& closest = result.closest->estimate;
  EXPECT_GT(closest.shortfall_bytes, 0);
  EXPECT_EQ(closest.shortfall_bytes, closest.memory.peakDeviceBytes() - std::int64_t(80e9));
  // One GPU: at least 69e9 parameters x 20 bytes must be held.
  EXPECT_GT(closest.memory.peakDeviceBytes(), std::int64_t(20 * 68976648192.0));
  EXPECT_NE(result.message.find("no layout"), std::string::npos);
  EXPECT_NE(result.message.find("GiB more than"), std::string::npos);
}

TEST(PlanSearch, HostMemoryOffloadMakesItFitOnOneGpu) {
  SearchRequest request = h100s(llama(32, 32, 32, 4096, 11008), 1, 8);
  request.allow_offload = false;
  EXPECT_FALSE(searchPlans(request).anythingFits());  // 7B x 20 bytes > 80 GB
  request.allow_offload = true;
  const SearchResult result = searchPlans(request);
  ASSERT_TRUE(result.anythingFits()) << result.message;
  EXPECT_GT(result.best[0].estimate.layout.optimizer_offload, 0.0);
  EXPECT_GT(result.best[0].estimate.memory.peakHostBytes(), 0);
}

TEST(CommModel, DataParallelVolumesFollowZero) {
  // Without biases the zoo builds no such GPT, so ZeRO-3 keeps the paper's flat volumes here; the
  // zoo's models are counted per chunk (tests/parallel/comm_model_zero3_test.cpp).
  ModelDescription m;
  m.biases = false;
  TrainingLayout layout;
  layout.dp = 8;
  layout.micro_batches = 1;
  const std::int64_t psi = totalParameters(m);
  const std::int64_t padded = (psi + 7) / 8 * 8;
  const std::array<Axis, kAxisCount> order = Plan{}.order;
  auto bytes = [&] { return stepCommBytes(stepCollectives(m, layout, order, 8)); };
  const std::int64_t norm = allReduceBusBytes(8, 8);
  EXPECT_EQ(bytes(), allReduceBusBytes(4 * psi, 8));
  // ZeRO-1, the engine's layout and the paper's alike: reduce-scatter + all-gather (docs/zero.md),
  // exactly plain dp's all-reduce of the padded gradients.
  layout.zero = 1;
  EXPECT_EQ(bytes(), reduceScatterBusBytes(4 * padded, 8) + allGatherBusBytes(4 * padded, 8) + norm);
  EXPECT_EQ(bytes(), allReduceBusBytes(4 * padded, 8) + norm);
  layout.state_layout = StateLayout::zero_paper;
  EXPECT_EQ(bytes(), reduceScatterBusBytes(4 * padded, 8) + allGatherBusBytes(4 * padded, 8) + norm);
  // ZeRO-2: reduce-scatter + all-gather = the same as an all-reduce (ZeRO paper section 7.2.1).
  layout.zero = 2;
  EXPECT_EQ(bytes(), reduceScatterBusBytes(4 * padded, 8) + allGatherBusBytes(4 * padded, 8) + norm);
  // ZeRO-3: 1.5x plain data parallel (section 7.2.2).
  layout.zero = 3;
  EXPECT_NEAR(double(bytes()) / allReduceBusBytes(4 * psi, 8), 1.5, 1e-4);
  // Without clipping (and not fp16) no norm is reduced.
  layout.clip_gradients = false;
  EXPECT_EQ(bytes(), 2 * allGatherBusBytes(4 * padded, 8) + reduceScatterBusBytes(4 * padded, 8));
}

TEST(CommModel, MegatronTensorParallelAllReduces) {
  ModelDescription m;  // 2 layers, d 64, seq 64
  TrainingLayout layout;
  layout.tp = 4;
  layout.micro_batch_size = 2;
  layout.micro_batches = 3;
  const auto loads = stepCollectives(m, layout, Plan{}.order, 8);
  // The f/g activation all-reduces, the vocabulary-parallel cross-entropy's three per-token
  // all-reduces, and the gradient norm's 8 bytes over tp.
  ASSERT_EQ(loads.size(), 3u);
  EXPECT_EQ(loads[0].axis, "tp");
  EXPECT_EQ(loads[0].payload_bytes, 4 * 2 * 64 * 64);  // fp32 b*s*h
  // 4 per layer per micro-batch (2 forward, 2 backward) + the embedding and the head.
  EXPECT_EQ(loads[0].count, 3 * (2 * 4 + 2));
  EXPECT_TRUE(loads[0].intra_node);
  EXPECT_EQ(loads[1].what, "vocab-parallel cross-entropy all-reduce");
  EXPECT_EQ(loads[1].payload_bytes, 4 * 2 * 64);  // one fp32 per token
  EXPECT_EQ(loads[1].count, 3 * 3);
  EXPECT_EQ(loads[2].what, "gradient-norm all-reduce");
  EXPECT_EQ(loads[2].axis, "tp");
  EXPECT_EQ(loads[2].payload_bytes, 8);
  // Sequence parallelism: all-gathers and reduce-scatters of the same tensors, plus the partial
  // gradients of the replicated norms, output biases and position embedding (GPT: 6 vectors per
  // layer and the final norm's 2; one position table).
  layout.sequence_parallel = true;
  const auto sp_loads = stepCollectives(m, layout, Plan{}.order, 8);
  ASSERT_EQ(sp_loads.size(), 6u);
  EXPECT_EQ(sp_loads[0].kind, CollectiveKind::all_gather);
  EXPECT_EQ(sp_loads[1].kind, CollectiveKind::reduce_scatter);
  // The all-gathers also re-gather each column-parallel input in backward (the shard is what
  // forward kept): QKV and MLP inputs of both layers and the head's, per micro-batch.
  EXPECT_EQ(sp_loads[0].count, 3 * (2 * 4 + 2) + 3 * (2 * 2 + 1));
  EXPECT_EQ(sp_loads[1].count, 3 * (2 * 4 + 2));
  EXPECT_EQ(sp_loads[2].payload_bytes, 4 * 64);
  EXPECT_EQ(sp_loads[2].count, 3 * (2 * 6 + 2));
  EXPECT_EQ(sp_loads[3].payload_bytes, 4 * 64 * 64);
  EXPECT_EQ(sp_loads[3].count, 3);
}

TEST(CommModel, GroupsThatSpanNodesUseTheSlowerLink) {
  ModelDescription m;
  TrainingLayout layout;
  layout.dp = 4;
  layout.tp = 4;
  const auto loads = stepCollectives(m, layout, Plan{}.order, 8);
  for (const auto& load : loads) {
    if (load.axis == "tp") {
      EXPECT_TRUE(load.intra_node);
    }
    if (load.axis == "dp") {
      EXPECT_FALSE(load.intra_node);  // 4 x 4 = 16 consecutive devices
    }
  }
}

// A mixture of experts spreads its experts over ep; the dense model never gets an ep axis.
TEST(PlanSearch, ExpertParallelOnlyForMixturesOfExperts) {
  ModelDescription moe = llama(16, 16, 16, 2048, 5632);
  moe.experts = 8;
  moe.experts_per_token = 2;
  SearchRequest request = h100s(moe, 16, 256);
  request.keep = 50;
  const SearchResult result = searchPlans(request);
  ASSERT_TRUE(result.anythingFits()) << result.message;
  bool any_ep = false;
  for (const auto& plan : result.best) any_ep = any_ep || plan.estimate.layout.ep > 1;
  EXPECT_TRUE(any_ep);
  const SearchResult dense = searchPlans(h100s(llama(16, 16, 16, 2048, 5632), 16, 256));
  for (const auto& plan : dense.best) EXPECT_EQ(plan.estimate.layout.ep, 1);
}

// Both sp modes are searched where the shapes allow them, as the engine checks them before
// launch: Ulysses needs the query and key/value heads divisible by tp x sp, ring needs the
// sequence divisible by 2 x sp (two zigzag chunks per rank; x tp under Megatron-SP).
TEST(PlanSearch, SequenceParallelModesFollowTheShapes) {
  ModelDescription model = llama(2, 8, 2, 512, 1408);  // 8 heads, 2 key/value heads
  model.vocab = 4096;
  SearchRequest request = h100s(model, 4, 4);
  request.allow_tensor = false;
  request.allow_pipeline = false;
  request.allow_offload = false;
  request.allow_recompute = false;
  request.keep = 100000;  // every fitting plan
  using Split = std::pair<int, ContextMode>;
  const auto searchedSplits = [&] {
    std::set<Split> found;
    for (const RankedPlan& plan : searchPlans(request).best) {
      const TrainingLayout& l = plan.estimate.layout;
      if (l.sp > 1) found.emplace(l.sp, l.context_mode);
    }
    return found;
  };
  // sp 4 leaves half a key/value head per rank for Ulysses; ring splits 4096 tokens into 8 chunks.
  EXPECT_EQ(searchedSplits(), (std::set<Split>{{2, ContextMode::ulysses}, {2, ContextMode::ring}, {4, ContextMode::ring}}));
  // 4098 tokens make two sp shards but not four ring chunks, nor four shards.
  request.model.seq_len = 4098;
  EXPECT_EQ(searchedSplits(), (std::set<Split>{{2, ContextMode::ulysses}}));
}

}  // namespace
}  // namespace behemoth
