// Softmax cross-entropy over the vocabulary in one pass each way, fp32 and bf16 logits on the CPU
// (reference twin of a future CUDA kernel). ATen's composition writes the log-probabilities in
// forward and, in backward, a one-hot gradient and then the softmax gradient: three tensors the
// size of the logits. Here forward keeps one float per row (its log-sum-exp) and backward writes
// the gradient once, exp(x - lse) - onehot, straight from the logits.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

namespace behemoth {

// Rows whose target is this are left out of the loss and of its mean, as in torch.
constexpr std::int64_t kIgnoreTarget = -100;

struct CrossEntropyForward {
  at::Tensor loss;       // scalar, the logits' dtype: mean over counted rows of lse - x[target]
  at::Tensor logsumexp;  // float [N]: what backward needs besides the logits
  std::int64_t counted = 0;  // rows whose target is not kIgnoreTarget
};

// logits [N, V] (fp32 or bf16), targets int64 [N] in 0..V-1 or kIgnoreTarget.
CrossEntropyForward softmaxCrossEntropyForward(const at::Tensor& logits, const at::Tensor& targets);

// The gradient with respect to the logits of grad_loss * loss, in the logits' dtype.
at::Tensor softmaxCrossEntropyBackward(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& targets,
                                       const at::Tensor& logsumexp, std::int64_t counted);

}  // namespace behemoth
