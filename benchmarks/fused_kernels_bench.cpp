// The fused CPU kernels (kernels/fused_*.h) against the ATen operators they replace, at the zoo's
// sizes (2,048 tokens: batch 8 x 256; d_model 512, GELU width 2,048, SwiGLU width 1,408), fp32 and
// bf16, one thread. bytes_per_second counts what a kernel must read and write at the least (its
// inputs and outputs once); BM_MemoryCopy measures this machine's memory bandwidth to set it against.
//
//   build/bin/fused_kernels_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <torch/csrc/autograd/autograd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/fused_cross_entropy.h"
#include "kernels/fused_gelu.h"
#include "kernels/fused_norm.h"
#include "kernels/fused_rotary.h"
#include "kernels/fused_swiglu.h"
#include "kernels/sum_of_squares.h"

namespace {

using behemoth::NormKind;

constexpr std::int64_t kTokens = 8 * 256;
constexpr std::int64_t kModel = 512;
constexpr std::int64_t kGeluWidth = 4 * kModel;
constexpr std::int64_t kSwigluWidth = 1408;

at::ScalarType dtypeOf(const benchmark::State& state) { return state.range(0) == 0 ? at::kFloat : at::kBFloat16; }

void label(benchmark::State& state, std::int64_t bytes) {
  state.SetBytesProcessed(state.iterations() * bytes);
  state.SetLabel(state.range(0) == 0 ? "fp32" : "bf16");
}

void BM_MemoryCopy(benchmark::State& state) {
  const at::Tensor source = at::randn({64 << 20});  // 256 MB, beyond every cache
  at::Tensor target = at::empty_like(source);
  for (auto _ : state) target.copy_(source);
  state.SetBytesProcessed(state.iterations() * 2 * source.nbytes());
}

void BM_GeluForward_Fused(benchmark::State& state) {
  const at::Tensor x = at::randn({kTokens, kGeluWidth}).to(dtypeOf(state));
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::geluTanhForward(x, {}));
  label(state, 2 * x.nbytes());
}
void BM_GeluForward_Aten(benchmark::State& state) {
  const at::Tensor x = at::randn({kTokens, kGeluWidth}).to(dtypeOf(state));
  for (auto _ : state) benchmark::DoNotOptimize(at::gelu(x, "tanh"));
  label(state, 2 * x.nbytes());
}
void BM_GeluBackward_Fused(benchmark::State& state) {
  const at::Tensor x = at::randn({kTokens, kGeluWidth}).to(dtypeOf(state));
  const at::Tensor grad = at::randn_like(x);
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::geluTanhBackward(grad, x, {}));
  label(state, 3 * x.nbytes());
}
void BM_GeluBackward_Aten(benchmark::State& state) {
  const at::Tensor x = at::randn({kTokens, kGeluWidth}).to(dtypeOf(state));
  const at::Tensor grad = at::randn_like(x);
  for (auto _ : state) benchmark::DoNotOptimize(at::gelu_backward(grad, x, "tanh"));
  label(state, 3 * x.nbytes());
}

void BM_SwigluForward_Fused(benchmark::State& state) {
  const at::Tensor gate = at::randn({kTokens, kSwigluWidth}).to(dtypeOf(state));
  const at::Tensor up = at::randn_like(gate);
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::swigluForward(gate, up));
  label(state, 3 * gate.nbytes());
}
void BM_SwigluForward_Aten(benchmark::State& state) {
  const at::Tensor gate = at::randn({kTokens, kSwigluWidth}).to(dtypeOf(state));
  const at::Tensor up = at::randn_like(gate);
  for (auto _ : state) benchmark::DoNotOptimize(at::silu(gate) * up);
  label(state, 3 * gate.nbytes());
}
void BM_SwigluBackward_Fused(benchmark::State& state) {
  const at::Tensor gate = at::randn({kTokens, kSwigluWidth}).to(dtypeOf(state));
  const at::Tensor up = at::randn_like(gate);
  const at::Tensor grad = at::randn_like(gate);
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::swigluBackward(grad, gate, up));
  label(state, 5 * gate.nbytes());
}
// What autograd runs for silu(gate) * up: the product's two gradients, then silu's.
void BM_SwigluBackward_Aten(benchmark::State& state) {
  const at::Tensor gate = at::randn({kTokens, kSwigluWidth}).to(dtypeOf(state));
  const at::Tensor up = at::randn_like(gate);
  const at::Tensor grad = at::randn_like(gate);
  for (auto _ : state) {
    const at::Tensor activated = at::silu(gate);
    benchmark::DoNotOptimize(at::silu_backward(grad * up, gate));
    benchmark::DoNotOptimize(grad * activated);
  }
  label(state, 5 * gate.nbytes());
}

// Residual add + LayerNorm (range(1) == 0) or RMSNorm: x and residual in, sum and output out.
NormKind kindOf(const benchmark::State& state) { return state.range(1) == 0 ? NormKind::layer_norm : NormKind::rms_norm; }

at::Tensor atenNorm(NormKind kind, const at::Tensor& sum, const at::Tensor& weight, const at::Tensor& bias) {
  if (kind == NormKind::layer_norm) return at::layer_norm(sum, {sum.size(-1)}, weight, bias, 1e-5);
  const at::Tensor x = sum.to(at::kFloat);
  return weight * (x * at::rsqrt(x.pow(2).mean(-1, true) + 1e-5)).to(sum.scalar_type());
}

void normLabel(benchmark::State& state, std::int64_t bytes) {
  label(state, bytes);
  state.SetLabel(std::string(state.range(0) == 0 ? "fp32 " : "bf16 ") + (state.range(1) == 0 ? "LayerNorm" : "RMSNorm"));
}

// The inputs of one residual add + norm at the zoo's size, in the benchmark's dtype and kind.
struct NormInputs {
  explicit NormInputs(const benchmark::State& state)
      : kind(kindOf(state)),
        x(at::randn({kTokens, kModel}).to(dtypeOf(state))),
        residual(at::randn_like(x)),
        weight(at::randn({kModel}).to(dtypeOf(state))),
        bias(kind == NormKind::layer_norm ? at::randn({kModel}).to(dtypeOf(state)) : at::Tensor()) {}
  NormKind kind;
  at::Tensor x, residual, weight, bias;
};

void BM_AddNormForward_Fused(benchmark::State& state) {
  const NormInputs in(state);
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::fusedNormForward(in.kind, in.x, in.residual, in.weight, in.bias, 1e-5));
  normLabel(state, 4 * in.x.nbytes());
}
void BM_AddNormForward_Aten(benchmark::State& state) {
  const NormInputs in(state);
  for (auto _ : state) {
    const at::Tensor sum = in.x + in.residual;
    benchmark::DoNotOptimize(atenNorm(in.kind, sum, in.weight, in.bias));
  }
  normLabel(state, 4 * in.x.nbytes());
}
void BM_AddNormBackward_Fused(benchmark::State& state) {
  const NormInputs in(state);
  const behemoth::NormForward saved = behemoth::fusedNormForward(in.kind, in.x, in.residual, in.weight, in.bias, 1e-5);
  const at::Tensor grad_output = at::randn_like(in.x), grad_sum = at::randn_like(in.x);
  for (auto _ : state) {
    benchmark::DoNotOptimize(behemoth::fusedNormBackward(in.kind, grad_output, grad_sum, saved, in.weight, in.bias));
  }
  normLabel(state, 4 * in.x.nbytes());
}
// ATen's backward through autograd: the norm's gradient, then the residual stream's gradient added.
void BM_AddNormBackward_Aten(benchmark::State& state) {
  const NormInputs in(state);
  const at::Tensor x = in.x.clone().requires_grad_(true), residual = in.residual.clone().requires_grad_(true);
  const at::Tensor weight = in.weight.clone().requires_grad_(true);
  const at::Tensor bias = in.bias.defined() ? in.bias.clone().requires_grad_(true) : at::Tensor();
  const at::Tensor sum = x + residual;
  const at::Tensor output = atenNorm(in.kind, sum, weight, bias);
  const at::Tensor grad_output = at::randn_like(in.x), grad_sum = at::randn_like(in.x);
  std::vector<at::Tensor> inputs{x, residual, weight};
  if (bias.defined()) inputs.push_back(bias);
  for (auto _ : state) {
    benchmark::DoNotOptimize(torch::autograd::grad({sum, output}, inputs, {grad_sum, grad_output}, /*retain_graph=*/true));
  }
  normLabel(state, 4 * in.x.nbytes());
}

// Softmax cross-entropy: the GPT zoo's vocabulary (256) over 2,048 tokens, and a LLaMA-sized one
// (32,000) over 512 tokens. Forward reads the logits once; backward reads them and writes the gradient.
struct LossInputs {
  at::Tensor logits;
  at::Tensor targets;
};

LossInputs lossInputs(const benchmark::State& state) {
  const std::int64_t vocab = state.range(1) == 0 ? 256 : 32000;
  const std::int64_t rows = state.range(1) == 0 ? kTokens : 512;
  return {(at::randn({rows, vocab}) * 3.0).to(dtypeOf(state)), at::randint(0, vocab, {rows}, at::kLong)};
}

void lossLabel(benchmark::State& state, std::int64_t bytes) {
  label(state, bytes);
  state.SetLabel(std::string(state.range(0) == 0 ? "fp32" : "bf16") + (state.range(1) == 0 ? " V=256" : " V=32000"));
}

void BM_CrossEntropyForward_Fused(benchmark::State& state) {
  const LossInputs in = lossInputs(state);
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::softmaxCrossEntropyForward(in.logits, in.targets).loss);
  lossLabel(state, in.logits.nbytes());
}
void BM_CrossEntropyForward_Aten(benchmark::State& state) {
  const LossInputs in = lossInputs(state);
  for (auto _ : state) benchmark::DoNotOptimize(at::cross_entropy_loss(in.logits, in.targets));
  lossLabel(state, in.logits.nbytes());
}
void BM_CrossEntropyBackward_Fused(benchmark::State& state) {
  const LossInputs in = lossInputs(state);
  const behemoth::CrossEntropyForward forward = behemoth::softmaxCrossEntropyForward(in.logits, in.targets);
  const at::Tensor grad = at::ones({});
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        behemoth::softmaxCrossEntropyBackward(grad, in.logits, in.targets, forward.logsumexp, forward.counted));
  }
  lossLabel(state, 2 * in.logits.nbytes());
}
void BM_CrossEntropyBackward_Aten(benchmark::State& state) {
  const LossInputs in = lossInputs(state);
  const at::Tensor logits = in.logits.detach().requires_grad_(true);
  const at::Tensor loss = at::cross_entropy_loss(logits, in.targets);
  for (auto _ : state) benchmark::DoNotOptimize(torch::autograd::grad({loss}, {logits}, {}, /*retain_graph=*/true));
  lossLabel(state, 2 * in.logits.nbytes());
}

// Rotary on q's heads for a LLaMA block of d_model 512 (8 heads of 64), viewed [B, H, T, D] over
// the projection's [B, T, H, D] as the zoo does. Each way reads x (or the gradient) and writes once.
struct RotaryInputs {
  at::Tensor heads;
  at::Tensor cos;
  at::Tensor sin;
};

RotaryInputs rotaryInputs(const benchmark::State& state) {
  const at::Tensor angles = at::rand({256, 64}) * 100.0;
  return {at::randn({8, 256, 8, 64}).to(dtypeOf(state)).transpose(1, 2), angles.cos().to(dtypeOf(state)),
          angles.sin().to(dtypeOf(state))};
}

at::Tensor rotaryComposition(const RotaryInputs& in, const at::Tensor& x) {
  const std::int64_t half = x.size(-1) / 2;
  return x * in.cos + at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1) * in.sin;
}

void BM_RotaryForward_Fused(benchmark::State& state) {
  const RotaryInputs in = rotaryInputs(state);
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::rotaryForward(in.heads, in.cos, in.sin));
  label(state, 2 * in.heads.nbytes());
}
void BM_RotaryForward_Aten(benchmark::State& state) {
  const RotaryInputs in = rotaryInputs(state);
  for (auto _ : state) benchmark::DoNotOptimize(rotaryComposition(in, in.heads));
  label(state, 2 * in.heads.nbytes());
}
void BM_RotaryBackward_Fused(benchmark::State& state) {
  const RotaryInputs in = rotaryInputs(state);
  const at::Tensor grad = at::randn(in.heads.sizes()).to(dtypeOf(state));
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::rotaryBackward(grad, in.cos, in.sin));
  label(state, 2 * in.heads.nbytes());
}
void BM_RotaryBackward_Aten(benchmark::State& state) {
  const RotaryInputs in = rotaryInputs(state);
  const at::Tensor x = in.heads.detach().requires_grad_(true);
  const at::Tensor out = rotaryComposition(in, x);
  const at::Tensor grad = at::randn(in.heads.sizes()).to(dtypeOf(state));
  for (auto _ : state) benchmark::DoNotOptimize(torch::autograd::grad({out}, {x}, {grad}, /*retain_graph=*/true));
  label(state, 2 * in.heads.nbytes());
}

// The squared gradient norm of the 19M model's 19.2M fp32 gradient elements, once per step:
// one float64 pass against ATen's float64 copy, its square and their sum.
void BM_GradientSquares_Fused(benchmark::State& state) {
  const at::Tensor grad = at::randn({19'200'000});
  for (auto _ : state) benchmark::DoNotOptimize(behemoth::sumOfSquares(grad));
  state.SetBytesProcessed(state.iterations() * grad.nbytes());
}
void BM_GradientSquares_Aten(benchmark::State& state) {
  const at::Tensor grad = at::randn({19'200'000});
  for (auto _ : state) benchmark::DoNotOptimize(grad.to(at::kDouble).pow(2).sum().item<double>());
  state.SetBytesProcessed(state.iterations() * grad.nbytes());
}

}  // namespace

BENCHMARK(BM_MemoryCopy)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GeluForward_Fused)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GeluForward_Aten)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GeluBackward_Fused)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GeluBackward_Aten)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SwigluForward_Fused)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SwigluForward_Aten)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SwigluBackward_Fused)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SwigluBackward_Aten)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddNormForward_Fused)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddNormForward_Aten)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddNormBackward_Fused)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AddNormBackward_Aten)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrossEntropyForward_Fused)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrossEntropyForward_Aten)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrossEntropyBackward_Fused)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrossEntropyBackward_Aten)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RotaryForward_Fused)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RotaryForward_Aten)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RotaryBackward_Fused)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RotaryBackward_Aten)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GradientSquares_Fused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GradientSquares_Aten)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  at::set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
