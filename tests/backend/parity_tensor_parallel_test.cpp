// Tensor (and sequence) parallelism must not change the math: tp = 2 and 4, with and without
// sequence parallelism, dp 2 x tp 2 (plain, ZeRO 1, ZeRO 2), GPT and LLaMA with n_kv_head = 2 at
// tp = 4, follow single-process training (fp32, relative 1e-5) with clipping active, and end with
// the same gathered weights. A vocabulary of 257 at tp = 4 (padded to 260) gives the same losses.
// Per-rank parameter bytes and comm_bytes per step equal their theory exactly.
#include <gtest/gtest.h>

#include "parallel/comm_counter.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

struct TensorLayout {
  Arch arch;
  int tp;
  int dp;
  bool sequence_parallel;
  int zero;
  int micro_batch_size;  // 0: no accumulation
};

std::string layoutName(const testing::TestParamInfo<TensorLayout>& info) {
  const TensorLayout& c = info.param;
  return archName(c.arch) + "_dp" + std::to_string(c.dp) + "_tp" + std::to_string(c.tp) +
         (c.sequence_parallel ? "_sp" : "") + (c.zero ? "_zero" + std::to_string(c.zero) : "") +
         (c.micro_batch_size ? "_micro" + std::to_string(c.micro_batch_size) : "");
}

class TensorParallelParity : public testing::TestWithParam<TensorLayout> {};

TEST_P(TensorParallelParity, MatchesSingleProcessWithClipping) {
  const TensorLayout c = GetParam();
  Project project = tinyProject(c.arch);
  // Small enough that every step clips (asserted below): the global norm over dp and tp shards,
  // replicated parameters counted once, must be exact.
  project.optimizer.grad_clip = 0.05;
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 4u);
  EXPECT_NE(reference.losses.front(), reference.losses.back());
  project.plan.tp = c.tp;
  project.plan.sequence_parallel = c.sequence_parallel;
  project.plan.zero = c.zero;
  project.train.micro_batch_size = c.micro_batch_size;
  const ParityRun candidate = trainOnRanks(project, c.dp * c.tp);
  expectSameTraining(reference, candidate, 1e-5);
  expectEveryStepClippedAlike(reference, candidate, project.optimizer.grad_clip, 4, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, TensorParallelParity,
    testing::Values(TensorLayout{Arch::gpt, 2, 1, false, 0, 0}, TensorLayout{Arch::gpt, 4, 1, false, 0, 0},
                    TensorLayout{Arch::gpt, 2, 1, true, 0, 0}, TensorLayout{Arch::gpt, 4, 1, true, 0, 2},
                    TensorLayout{Arch::gpt, 2, 2, false, 0, 0}, TensorLayout{Arch::gpt, 2, 2, true, 1, 0},
                    TensorLayout{Arch::gpt, 2, 2, false, 2, 2}, TensorLayout{Arch::llama, 4, 1, false, 0, 0},
                    TensorLayout{Arch::llama, 4, 1, true, 0, 0}, TensorLayout{Arch::llama, 2, 2, true, 2, 0}),
    layoutName);

TEST(TensorParallelVocabulary, PaddedVocabularyGivesTheUnpaddedLosses) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    Project project = tinyProject(arch);
    project.model.vocab_size = 257;  // padded to 260 at tp = 4
    const ParityRun reference = trainOnRanks(project, 1);
    project.plan.tp = 4;
    const ParityRun candidate = trainOnRanks(project, 4);
    expectSameTraining(reference, candidate, 1e-5);
  }
}

// Bytes of one rank's working parameters at tp = n, written out from the architecture: every
// sharded matrix (and its sharded bias) over n, the vocabulary padded to a multiple of n, plus
// everything replicated (norms, position embeddings, row-parallel biases).
std::int64_t gptParameterBytesPerRank(const ModelConfig& m, int n) {
  const std::int64_t d = m.d_model, ff = m.ffnHidden(), padded_vocab = (m.vocab_size + n - 1) / n * n;
  const std::int64_t sharded_per_layer = 3 * d * d + 3 * d + ff * d + ff + d * d + d * ff;
  const std::int64_t replicated_per_layer = 2 * d + 2 * d + d + d;  // ln1, ln2, attn.proj.bias, mlp.proj.bias
  const std::int64_t sharded = padded_vocab * d + m.n_layer * sharded_per_layer;
  const std::int64_t replicated = m.seq_len * d + m.n_layer * replicated_per_layer + 2 * d;  // pos_emb, ln_f
  return 4 * (sharded / n + replicated);
}

TEST(TensorParallelAccounting, ParameterBytesPerRankAreTheShardsPlusTheReplicated) {
  Project project = tinyProject(Arch::gpt);
  project.model.vocab_size = 257;
  for (int tp : {2, 4}) {
    project.plan.tp = tp;
    const ParityRun run = trainOnRanks(project, tp);
    ASSERT_EQ(run.parameter_bytes.size(), static_cast<std::size_t>(tp));
    const std::int64_t expected = gptParameterBytesPerRank(project.model, tp);
    for (int rank = 0; rank < tp; ++rank) EXPECT_EQ(run.parameter_bytes[rank], expected) << "tp " << tp << " rank " << rank;
    // fp32 AdamW: parameters, gradients and two moments of exactly those elements.
    ASSERT_FALSE(run.step_events.empty());
    EXPECT_EQ(run.step_events.back().at("model_state_bytes").get<std::int64_t>(), 4 * expected);
  }
}

// comm_bytes of one step (one micro-batch, dp = 1) at tp = n, from the Megatron layer structure:
//   without SP: the f/g all-reduces of the [B, T, d] activations: the embedding's g, two g forward
//     and two f backward per block, the head's f; with SP each becomes an all-gather plus a
//     reduce-scatter of the same full tensor, each column-parallel input (two per block, the
//     head's) is all-gathered once more in backward, and the replicated parameters' partial
//     gradients are all-reduced over tp;
//   the vocabulary-parallel cross-entropy: three all-reduces of one fp32 per token;
//   the global gradient norm: one 8-byte all-reduce over tp.
std::int64_t gptTensorParallelCommBytes(const Project& project, int n, bool sequence_parallel) {
  const ModelConfig& m = project.model;
  const std::int64_t tokens = std::int64_t{project.data.global_batch_size} * m.seq_len;
  const std::int64_t activation = 4 * tokens * m.d_model;
  const std::int64_t exchanges = 2 + 4 * std::int64_t{m.n_layer};
  std::int64_t bytes = 3 * allReduceBusBytes(4 * tokens, n) + allReduceBusBytes(8, n);
  if (!sequence_parallel) return bytes + exchanges * allReduceBusBytes(activation, n);
  bytes += exchanges * (allGatherBusBytes(activation, n) + reduceScatterBusBytes(activation, n));
  const std::int64_t column_inputs = 2 * std::int64_t{m.n_layer} + 1;
  bytes += column_inputs * allGatherBusBytes(activation, n);
  const std::int64_t d = m.d_model;
  bytes += allReduceBusBytes(4 * m.seq_len * d, n);  // pos_emb
  for (int layer = 0; layer < m.n_layer; ++layer) {
    // ln1 weight and bias, attn.proj bias, ln2 weight and bias, mlp.proj bias: one all-reduce each.
    bytes += 6 * allReduceBusBytes(4 * d, n);
  }
  bytes += 2 * allReduceBusBytes(4 * d, n);  // ln_f weight and bias
  return bytes;
}

TEST(TensorParallelAccounting, CommBytesPerStepAreTheTheory) {
  Project project = tinyProject(Arch::gpt);
  for (int tp : {2, 4}) {
    for (bool sequence_parallel : {false, true}) {
      project.plan.tp = tp;
      project.plan.sequence_parallel = sequence_parallel;
      const ParityRun run = trainOnRanks(project, tp);
      ASSERT_FALSE(run.step_events.empty());
      const std::int64_t expected = gptTensorParallelCommBytes(project, tp, sequence_parallel);
      for (const auto& event : run.step_events) {
        EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), expected) << "tp " << tp << " sp " << sequence_parallel;
        EXPECT_EQ(event.at("comm_bytes_by_axis").at("tp").get<std::int64_t>(), expected);
      }
    }
  }
}

}  // namespace
}  // namespace behemoth
