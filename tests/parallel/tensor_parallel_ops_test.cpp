// The 1D tensor-parallel layers on 2 and 4 real ranks equal the dense layers: forward values and
// every gradient (input, weight shard, bias), with and without sequence parallelism (also several
// column-parallel matmuls sharing one input, as q, k and v do); the
// vocabulary-parallel embedding and cross-entropy with a padded vocabulary, where the padding
// columns hold huge logits that must not change anything.
#include "parallel/tensor_parallel/tensor_parallel_ops.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "parallel/world.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

// The same values on every rank: a fixed seed in each process.
at::Tensor seeded(std::uint64_t seed, at::IntArrayRef sizes) {
  at::manual_seed(seed);
  return at::randn(sizes);
}
at::Tensor leaf(const at::Tensor& value) { return value.clone().set_requires_grad(true); }
at::Tensor part(const at::Tensor& t, int dim, int n, int r) { return t.chunk(n, dim)[r].contiguous(); }

Plan tensorParallelPlan(int n) {
  Plan plan;
  plan.tp = n;
  plan.resolve(n);
  return plan;
}

void runOnTensorParallelRanks(int n, const std::function<void(Group&, int, int)>& body) {
  const RankRun run = runOnRanks(n, [n, &body](const WorldInfo& info) {
    ProcessWorld world(info, tensorParallelPlan(n));
    Group& tp = world.group(Axis::tp);
    body(tp, tp.rank(), n);
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

class TensorParallelOps : public testing::TestWithParam<int> {};

// Column-parallel then row-parallel (the Megatron MLP) against the dense two-layer MLP.
void checkMlp(Group& group, int r, int n, bool sequence_parallel) {
  const TensorParallelContext tp{&group, sequence_parallel};
  const std::int64_t B = 2, T = 8, d = 6, h = 8;
  const at::Tensor x = seeded(1, {B, T, d}), w1 = seeded(2, {h, d}), b1 = seeded(3, {h}), w2 = seeded(4, {d, h}),
                   b2 = seeded(5, {d}), probe = seeded(6, {B, T, d});
  // Dense reference.
  at::Tensor dx = leaf(x), dw1 = leaf(w1), db1 = leaf(b1), dw2 = leaf(w2), db2 = leaf(b2);
  const at::Tensor dense = at::linear(at::gelu(at::linear(dx, dw1, db1)), dw2, db2);
  (dense * probe).sum().backward();
  // Tensor parallel: shards of the same parameters.
  at::Tensor px = leaf(sequence_parallel ? part(x, 1, n, r) : x);
  at::Tensor pw1 = leaf(part(w1, 0, n, r)), pb1 = leaf(part(b1, 0, n, r)), pw2 = leaf(part(w2, 1, n, r)), pb2 = leaf(b2);
  const at::Tensor hidden = columnParallelLinear(columnParallelInput(px, tp), pw1, pb1, tp, false);
  const at::Tensor out = rowParallelLinear(at::gelu(hidden), pw2, pb2, tp);
  const at::Tensor my_probe = sequence_parallel ? part(probe, 1, n, r) : probe;
  // Without SP every rank computes the whole loss; the gradients are the dense ones per rank.
  // With SP each rank's loss covers its tokens and the sum over ranks is the dense loss.
  (out * my_probe).sum().backward();
  const std::string mode = sequence_parallel ? " (SP)" : "";
  requireClose(out.detach(), sequence_parallel ? part(dense.detach(), 1, n, r) : dense.detach(), "MLP output" + mode);
  requireClose(px.grad(), sequence_parallel ? part(dx.grad(), 1, n, r) : dx.grad(), "input grad" + mode);
  requireClose(pw1.grad(), part(dw1.grad(), 0, n, r), "column weight grad" + mode);
  requireClose(pb1.grad(), part(db1.grad(), 0, n, r), "column bias grad" + mode);
  requireClose(pw2.grad(), part(dw2.grad(), 1, n, r), "row weight grad" + mode);
  at::Tensor bias_grad = pb2.grad().clone();
  if (sequence_parallel) group.allReduce(bias_grad);  // partial per rank under SP: its tokens only
  requireClose(bias_grad, db2.grad(), "row bias grad (added once)" + mode);
}

TEST_P(TensorParallelOps, ColumnThenRowParallelEqualsDenseMlp) {
  runOnTensorParallelRanks(GetParam(), [](Group& group, int r, int n) { checkMlp(group, r, n, false); });
}

TEST_P(TensorParallelOps, SequenceParallelMlpEqualsDenseOnEachShard) {
  runOnTensorParallelRanks(GetParam(), [](Group& group, int r, int n) { checkMlp(group, r, n, true); });
}

// Two column-parallel matmuls of one input (like q and k), one with a bias and one without, in
// one call: outputs and every gradient equal the dense ones; under SP the input gradient is the
// sum over both matmuls, reduce-scattered once.
void checkSharedInput(Group& group, int r, int n, bool sequence_parallel) {
  const TensorParallelContext tp{&group, sequence_parallel};
  const std::int64_t B = 2, T = 4 * n, d = 5;
  const at::Tensor x = seeded(11, {B, T, d}), wa = seeded(12, {3 * n, d}), ba = seeded(13, {3 * n}),
                   wb = seeded(14, {2 * n, d}), probe_a = seeded(15, {B, T, 3 * n}), probe_b = seeded(16, {B, T, 2 * n});
  at::Tensor dx = leaf(x), dwa = leaf(wa), dba = leaf(ba), dwb = leaf(wb);
  const at::Tensor dense_a = at::linear(dx, dwa, dba), dense_b = at::linear(dx, dwb);
  ((dense_a * probe_a).sum() + (dense_b * probe_b).sum()).backward();

  at::Tensor px = leaf(sequence_parallel ? part(x, 1, n, r) : x);
  at::Tensor pwa = leaf(part(wa, 0, n, r)), pba = leaf(part(ba, 0, n, r)), pwb = leaf(part(wb, 0, n, r));
  const std::vector<at::Tensor> outs = columnParallelLinears(columnParallelInput(px, tp), {pwa, pwb}, {pba, at::Tensor()}, tp);
  ((outs.at(0) * part(probe_a, 2, n, r)).sum() + (outs.at(1) * part(probe_b, 2, n, r)).sum()).backward();
  const std::string mode = sequence_parallel ? " (SP)" : "";
  requireClose(outs[0].detach(), part(dense_a.detach(), 2, n, r), "first output" + mode);
  requireClose(outs[1].detach(), part(dense_b.detach(), 2, n, r), "second output" + mode);
  requireClose(px.grad(), sequence_parallel ? part(dx.grad(), 1, n, r) : dx.grad(), "input grad" + mode);
  requireClose(pwa.grad(), part(dwa.grad(), 0, n, r), "first weight grad" + mode);
  requireClose(pba.grad(), part(dba.grad(), 0, n, r), "first bias grad" + mode);
  requireClose(pwb.grad(), part(dwb.grad(), 0, n, r), "second weight grad" + mode);
}

TEST_P(TensorParallelOps, ColumnMatmulsSharingAnInputEqualDense) {
  runOnTensorParallelRanks(GetParam(), [](Group& group, int r, int n) {
    checkSharedInput(group, r, n, false);
    checkSharedInput(group, r, n, true);
  });
}

TEST_P(TensorParallelOps, GatheredColumnOutputEqualsDense) {
  runOnTensorParallelRanks(GetParam(), [](Group& group, int r, int n) {
    const TensorParallelContext tp{&group, false};
    const at::Tensor x = seeded(1, {3, 5}), w = seeded(2, {4 * n, 5}), probe = seeded(3, {3, 4 * n});
    at::Tensor dx = leaf(x), dw = leaf(w);
    const at::Tensor dense = at::linear(dx, dw);
    (dense * probe).sum().backward();
    at::Tensor px = leaf(x), pw = leaf(part(w, 0, n, r));
    const at::Tensor out = columnParallelLinear(columnParallelInput(px, tp), pw, at::Tensor(), tp, true);
    (out * probe).sum().backward();
    requireClose(out.detach(), dense.detach(), "gathered output");
    requireClose(px.grad(), dx.grad(), "input grad");
    requireClose(pw.grad(), part(dw.grad(), 0, n, r), "weight grad");
  });
}

// Vocabulary of 4n + 1: padded by n - 1 rows at tp = n.
void checkEmbedding(Group& group, int r, int n, bool sequence_parallel) {
  const TensorParallelContext tp{&group, sequence_parallel};
  const std::int64_t vocab = 4 * n + 1, padded = paddedToMultiple(vocab, n), rows = padded / n;
  const at::Tensor table = seeded(7, {vocab, 3});
  at::manual_seed(8);
  const at::Tensor ids = at::randint(0, vocab, {2, 2 * n}, at::kLong);
  const at::Tensor probe = seeded(9, {2, 2 * n, 3});
  at::Tensor dense_table = leaf(table);
  const at::Tensor dense = at::embedding(dense_table, ids);
  (dense * probe).sum().backward();
  const at::Tensor padded_table = at::cat({table, at::zeros({padded - vocab, 3})});
  at::Tensor shard = leaf(padded_table.narrow(0, r * rows, rows));
  const at::Tensor out = vocabParallelEmbedding(ids, shard, r * rows, tp);
  (out * (sequence_parallel ? part(probe, 1, n, r) : probe)).sum().backward();
  requireClose(out.detach(), sequence_parallel ? part(dense.detach(), 1, n, r) : dense.detach(), "embedding");
  const at::Tensor dense_grad = at::cat({dense_table.grad(), at::zeros({padded - vocab, 3})});
  requireClose(shard.grad(), dense_grad.narrow(0, r * rows, rows), "embedding grad (padding rows zero)");
}

TEST_P(TensorParallelOps, VocabParallelEmbeddingEqualsLookupWithPadding) {
  runOnTensorParallelRanks(GetParam(), [](Group& group, int r, int n) {
    checkEmbedding(group, r, n, false);
    checkEmbedding(group, r, n, true);
  });
}

TEST_P(TensorParallelOps, VocabParallelCrossEntropyIgnoresPaddingAndNeverGathers) {
  runOnTensorParallelRanks(GetParam(), [](Group& group, int r, int n) {
    const std::int64_t vocab = 4 * n + 1, padded = paddedToMultiple(vocab, n), columns = padded / n;
    const at::Tensor logits = seeded(10, {2, 5, vocab}) * 3;
    at::manual_seed(11);
    const at::Tensor targets = at::randint(0, vocab, {2, 5}, at::kLong);
    at::Tensor dense_logits = leaf(logits);
    const at::Tensor dense = at::cross_entropy_loss(dense_logits.reshape({-1, vocab}), targets.reshape({-1}));
    (dense * 0.5).backward();
    // Padding columns hold logits far above every real one: unmasked they would dominate the loss.
    const at::Tensor padded_logits = at::cat({logits, at::full({2, 5, padded - vocab}, 1000.0)}, -1);
    at::Tensor shard = leaf(padded_logits.narrow(-1, r * columns, columns));
    const at::Tensor loss = vocabParallelCrossEntropy(shard, targets, r * columns, vocab, group);
    (loss * 0.5).backward();
    requireClose(loss.detach(), dense.detach(), "loss");
    const at::Tensor dense_grad = at::cat({dense_logits.grad(), at::zeros({2, 5, padded - vocab})}, -1);
    requireClose(shard.grad(), dense_grad.narrow(-1, r * columns, columns), "logit grad (padding zero)");
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, TensorParallelOps, testing::Values(2, 4),
                         [](const testing::TestParamInfo<int>& info) { return "tp" + std::to_string(info.param); });

TEST(TensorParallelShards, PaddingRoundsUpToAMultiple) {
  EXPECT_EQ(paddedToMultiple(257, 4), 260);
  EXPECT_EQ(paddedToMultiple(256, 4), 256);
  EXPECT_EQ(evenShard(257, 4, 3).offset, 195);
  EXPECT_EQ(evenShard(257, 4, 3).size, 65);
}

}  // namespace
}  // namespace behemoth
