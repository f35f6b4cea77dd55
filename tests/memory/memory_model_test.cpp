// The memory model against published formulas: ZeRO's model-state memory (arXiv 1910.02054,
// Figure 1: Psi = 7.5B, N_d = 64, K = 12) and Megatron's activation memory per layer
// (arXiv 2205.05198, equations 1-2 and Table 2), plus pipeline stages, offload and padding.
#include <gtest/gtest.h>

#include <cmath>

#include "memory/activation_memory.h"
#include "memory/memory_model.h"

namespace behemoth {
namespace {

// A one-layer model of exactly 7.5e9 parameters: 1000*V + (4d^2 + 2df) + 3d with d = f = 1000.
ModelDescription zeroPaperModel() {
  ModelDescription m;
  m.layers = 1;
  m.d_model = 1000;
  m.heads = 8;
  m.kv_heads = 8;
  m.ffn_hidden = 1000;
  m.vocab = 7493997;
  m.seq_len = 8;
  m.learned_positions = false;
  m.biases = false;
  m.norm_bias = false;
  return m;
}

TEST(ZeroFormulas, PaperFigureOne) {
  const ModelDescription m = zeroPaperModel();
  ASSERT_EQ(totalParameters(m), 7500000000);
  TrainingLayout layout;
  layout.dp = 64;
  layout.precision = NumericFormat::fp16;
  layout.state_layout = StateLayout::zero_paper;  // K = 12: master weights, momentum, variance
  const double psi = 7.5e9;
  const double shard = psi / 64;
  // (2 + 2 + K) Psi, 2Psi + 2Psi + K Psi/N, 2Psi + (2 + K) Psi/N, (2 + 2 + K) Psi/N.
  const double expected[4] = {16 * psi, 4 * psi + 12 * shard, 2 * psi + 14 * shard, 16 * shard};
  const double paper_gb[4] = {120.0, 31.4, 16.6, 1.9};
  for (int stage = 0; stage <= 3; ++stage) {
    layout.zero = stage;
    const StageMemory memory = estimateMemory(m, layout).stages.at(0);
    EXPECT_EQ(memory.modelStateBytes(), static_cast<std::int64_t>(expected[stage])) << "stage " << stage;
    EXPECT_NEAR(double(memory.modelStateBytes()) / 1e9, paper_gb[stage], 0.05) << "stage " << stage;
  }
}

TEST(ZeroFormulas, EngineLayoutsPerParameter) {
  ModelDescription m;  // defaults: small GPT
  const double psi = double(totalParameters(m));
  TrainingLayout layout;
  layout.dp = 2;
  EXPECT_EQ(estimateMemory(m, layout).stages[0].modelStateBytes(), std::int64_t(16 * psi));
  layout.precision = NumericFormat::bf16;
  EXPECT_EQ(estimateMemory(m, layout).stages[0].modelStateBytes(), std::int64_t(20 * psi));
}

// The engine's ZeRO layouts (docs/zero.md, "What a rank holds"), with P' = ceil(P/N)*N.
TEST(ZeroFormulas, EngineZeroLayouts) {
  ModelDescription m;
  const std::int64_t psi = totalParameters(m);
  const int n = 4;
  const std::int64_t padded = (psi + n - 1) / n * n;
  const std::int64_t shard = padded / n;
  TrainingLayout layout;
  layout.dp = n;
  auto state = [&](int zero, NumericFormat precision, double offload) {
    layout.zero = zero;
    layout.precision = precision;
    layout.optimizer_offload = offload;
    return estimateMemory(m, layout).stages.at(0);
  };
  EXPECT_EQ(state(1, NumericFormat::fp32, 0).modelStateBytes(), 4 * padded + 4 * padded + 8 * shard);
  EXPECT_EQ(state(2, NumericFormat::fp32, 0).modelStateBytes(), 4 * padded + 12 * shard);
  const StageMemory offloaded = state(2, NumericFormat::fp32, 1.0);
  EXPECT_EQ(offloaded.modelStateBytes(), 4 * padded + 16 * shard);
  EXPECT_EQ(offloaded.hostBytes(), 12 * shard);
  EXPECT_EQ(state(2, NumericFormat::bf16, 0).modelStateBytes(), 2 * padded + 16 * shard);
  EXPECT_EQ(state(1, NumericFormat::bf16, 0).modelStateBytes(), 2 * padded + 2 * padded + 12 * shard);
  EXPECT_EQ(state(1, NumericFormat::fp16, 0).modelStateBytes(), 2 * padded + 2 * padded + 12 * shard);
}

// Megatron's layer: GeLU MLP of 4h, dropout, full multi-head attention, 16-bit activations.
ModelDescription megatronLayer() {
  ModelDescription m;
  m.layers = 4;
  m.d_model = 12288;
  m.heads = 96;
  m.kv_heads = 96;
  m.ffn_hidden = 4 * 12288;
  m.vocab = 51200;
  m.seq_len = 2048;
  m.dropout = true;
  return m;
}

TEST(MegatronActivations, EquationsOneAndTwoAndTableTwo) {
  const ModelDescription m = megatronLayer();
  const double s = 2048, h = 12288, a = 96;
  for (int b : {1, 4}) {
    for (int t : {1, 2, 8}) {
      TrainingLayout layout;
      layout.precision = NumericFormat::bf16;
      layout.micro_batch_size = b;
      layout.tp = t;
      const double sbh = s * b * h;
      // Equation 2 (t = 1: equation 1): no sequence parallelism, no recomputation.
      EXPECT_DOUBLE_EQ(double(layerActivationBytes(m, layout)), sbh * (10 + 24.0 / t + 5 * a * s / (h * t)))
          << "b " << b << " t " << t;
      // Table 2: selective recomputation.
      EXPECT_DOUBLE_EQ(double(layerActivationBytes(m, layout, Recompute::selective)), sbh * (10 + 24.0 / t));
      // Full recomputation keeps the layer input.
      EXPECT_DOUBLE_EQ(double(layerActivationBytes(m, layout, Recompute::full)), 2 * sbh);
      // With sequence parallelism everything divides by t.
      layout.sequence_parallel = true;
      EXPECT_DOUBLE_EQ(double(layerActivationBytes(m, layout)), sbh / t * (34 + 5 * a * s / h));
      EXPECT_DOUBLE_EQ(double(layerActivationBytes(m, layout, Recompute::selective)), sbh * 34 / t);
      EXPECT_DOUBLE_EQ(double(layerActivationBytes(m, layout, Recompute::full)), 2 * sbh / t);
    }
  }
}

TEST(MegatronActivations, GeneralisationToFp32GqaSwiGluWithoutDropout) {
  ModelDescription m;
  m.d_model = 64;
  m.heads = 8;
  m.kv_heads = 2;  // kv width 16
  m.ffn_hidden = 176;
  m.seq_len = 32;
  m.gated_mlp = true;
  m.dropout = false;
  TrainingLayout layout;
  layout.micro_batch_size = 3;
  const std::int64_t tokens = 3 * 32;
  const std::int64_t e = 4;
  const std::int64_t outside = 4 * e * tokens * 64;
  const std::int64_t inside = e * tokens * (2 * 64 + 2 * 16) + 4 * e * tokens * 176;
  const std::int64_t scores = e * 8 * 32 * tokens;
  EXPECT_EQ(layerActivationBytes(m, layout), outside + inside + scores);
  layout.fused_attention = true;
  EXPECT_EQ(layerActivationBytes(m, layout), outside + inside + 4 * 8 * tokens);
}

TEST(PipelineMemory, StagesSplitLayersAndHoldEmbeddingAndHead) {
  ModelDescription m;
  m.layers = 10;
  m.tied_embeddings = false;
  TrainingLayout layout;
  layout.pp = 4;
  layout.micro_batches = 8;
  const MemoryEstimate estimate = estimateMemory(m, layout);
  ASSERT_EQ(estimate.stages.size(), 4u);
  const int expected_layers[4] = {2, 2, 3, 3};
  std::int64_t sum = 0;
  for (int s = 0; s < 4; ++s) {
    EXPECT_EQ(estimate.stages[s].layers, expected_layers[s]);
    EXPECT_DOUBLE_EQ(estimate.stages[s].in_flight_micro_batches, 4 - s);  // 1F1B keeps p - s
    sum += estimate.stages[s].parameters;
  }
  EXPECT_EQ(sum, totalParameters(m));  // untied: nothing duplicated
  EXPECT_TRUE(estimate.stages[0].holds_embedding);
  EXPECT_TRUE(estimate.stages[3].holds_head);
  layout.schedule = PipelineSchedule::gpipe;
  EXPECT_DOUBLE_EQ(inFlightMicroBatches(layout, 3), 8);
  layout.schedule = PipelineSchedule::interleaved;
  layout.virtual_stages = 2;
  // Megatron: p * (1 + (p - 1) / (p v)) on the first stage.
  EXPECT_DOUBLE_EQ(inFlightMicroBatches(layout, 0), 4 * (1 + 3.0 / 8));
}

TEST(PipelineMemory, TiedHeadIsCopiedToTheLastStage) {
  ModelDescription m;
  m.layers = 4;
  TrainingLayout layout;
  layout.pp = 2;
  const MemoryEstimate estimate = estimateMemory(m, layout);
  EXPECT_EQ(estimate.stages[0].parameters + estimate.stages[1].parameters,
            totalParameters(m) + std::int64_t{m.vocab} * m.d_model);
}

TEST(TensorMemory, OneDShardsMatricesAndReplicatesNorms) {
  ModelDescription m;  // GPT: d 64, f 256, biases, LayerNorm
  TrainingLayout layout;
  layout.tp = 2;
  const std::int64_t d = m.d_model;
  const std::int64_t replicated_per_layer = 4 * d /*norms*/ + 2 * d /*row-parallel biases*/;
  const ParameterCounts counts = parameterCounts(m);
  const std::int64_t whole = totalParameters(m);
  const std::int64_t replicated = m.layers * replicated_per_layer + counts.position_embedding + counts.final_norm;
  EXPECT_EQ(2 * estimateMemory(m, layout).stages[0].parameters, whole + replicated);
}

// The flat ZeRO-3 formulas, where no chunk plan applies (a description the zoo does not build:
// a GPT without biases; the zoo's models are the chunk plan's, below).
TEST(OffloadAndPadding, HostBytesAndChunkPadding) {
  ModelDescription m;
  m.biases = false;
  const std::int64_t psi = totalParameters(m);
  TrainingLayout layout;
  layout.dp = 4;
  layout.zero = 3;
  layout.precision = NumericFormat::bf16;
  layout.optimizer_offload = 1.0;
  layout.parameter_offload = 0.5;
  const StageMemory plain = estimateMemory(m, layout).stages[0];
  const std::int64_t shard = (psi + 3) / 4;
  EXPECT_EQ(plain.term(kTermOptimizer).host_bytes, 8 * shard);
  EXPECT_EQ(plain.term(kTermOptimizer).device_bytes, 0);
  EXPECT_EQ(plain.term(kTermParameters).device_bytes + plain.term(kTermParameters).host_bytes, 2 * shard);
  EXPECT_EQ(plain.term(kTermParameters).host_bytes, shard);  // half of 2 bytes x shard
  // Chunks of 1000 elements: each rank owns whole chunks.
  layout.chunk_elements = 1000;
  const StageMemory chunked = estimateMemory(m, layout).stages[0];
  const std::int64_t chunks = (psi + 999) / 1000;
  // (the engine's layout keeps the reduced gradient shard in fp32)
  EXPECT_EQ(chunked.term(kTermGradients).device_bytes, 4 * ((chunks + 3) / 4) * 1000);
  EXPECT_GE(chunked.modelStateBytes(), plain.modelStateBytes());
}

// ZeRO-3 of a zoo GPT (2 blocks, d 64, ff 256, vocab 256, seq 64, tied) is its chunk plan. At
// 20480 elements per chunk and dp 4: 7 regular chunks ([tok_emb | pos_emb], then per block
// [qkv | attn.proj], [fc], [mlp.proj]) with shards of 5120 elements, the persistent chunk of the
// 1-D tensors, 1792 elements (shard 448). bf16 keeps a master in every optimizer shard. bf16, optimizer offload 1 (all 7 regular optimizer shards on the host), parameter
// offload 0.5 (round(3.5) = the first 4 parameter shards on the host).
TEST(OffloadAndPadding, ZeroThreeTermsAreTheChunkPlans) {
  const ModelDescription m;
  TrainingLayout layout;
  layout.dp = 4;
  layout.zero = 3;
  layout.precision = NumericFormat::bf16;
  layout.optimizer_offload = 1.0;
  layout.parameter_offload = 0.5;
  layout.chunk_elements = 20480;
  const StageMemory stage = estimateMemory(m, layout).stages[0];
  const auto expect = [&stage](const char* name, std::int64_t device, std::int64_t host) {
    EXPECT_EQ(stage.term(name).device_bytes, device) << name;
    EXPECT_EQ(stage.term(name).host_bytes, host) << name;
    EXPECT_EQ(stage.term(name).disk_bytes, 0) << name;
  };
  expect(kTermParameters, 3 * 5120 * 2 + 448 * 2, 4 * 5120 * 2);
  expect(kTermGradients, 448 * 4, 7 * 5120 * 4);  // the fp32 gradient shard, with the optimizer's
  expect(kTermOptimizer, 448 * 8, 7 * 5120 * 8);
  expect(kTermMasterWeights, 448 * 4, 7 * 5120 * 4);
  expect(kTermMasterGrads, 0, 0);
  // A block's backward: its three chunks and the tied embedding's, kept from the head down.
  expect(kTermGatheredChunks, 4 * 20480 * 2, 0);
  expect(kTermPersistentChunk, 1792 * 2, 0);
  expect(kTermCommBuffers, 0, 0);
  EXPECT_EQ(stage.modelStateBytes(), (7 * 5120 + 448) * 18 + 1792 * 2);  // + the persistent chunk gathered
  // Optimizer shards on disk instead: the same bytes on the disk tier.
  layout.optimizer_offload = 0.0;
  layout.disk_optim_fraction = 1.0;
  const StageMemory disk = estimateMemory(m, layout).stages[0];
  EXPECT_EQ(disk.term(kTermOptimizer).disk_bytes, 7 * 5120 * 8);
  EXPECT_EQ(disk.diskBytes(), 7 * 5120 * (4 + 8 + 4));
  EXPECT_EQ(disk.hostBytes(), 4 * 5120 * 2);
  EXPECT_EQ(disk.modelStateBytes(), stage.modelStateBytes());
}

TEST(MemoryModel, RejectsLayoutsThatCannotWork) {
  ModelDescription m;
  TrainingLayout layout;
  layout.pp = m.layers + 1;
  EXPECT_THROW(estimateMemory(m, layout), std::invalid_argument);
  layout = TrainingLayout{};
  layout.parameter_offload = 0.5;  // needs ZeRO-3
  EXPECT_THROW(estimateMemory(m, layout), std::invalid_argument);
  layout = TrainingLayout{};
  layout.tp = 3;
  layout.tensor_mode = TensorMode::two_d;
  EXPECT_THROW(estimateMemory(m, layout), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
