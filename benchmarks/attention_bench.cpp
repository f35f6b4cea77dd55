// The engine's causal attention core, forward and backward, at one size: blockwise (the default
// of model.attention) or dense (scores materialised), on one thread. Prints one JSON line: the best
// of `repeats` forward+backward times and the counting allocator's peak tensor bytes above the
// inputs, and the growth of the peak resident set over the step. benchmarks/attention_speed.py runs it beside PyTorch's softmax attention.
//
//   build/bin/attention_bench KIND T [batch heads kv_heads head_dim block repeats]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "backend/metrics/tensor_memory.h"
#include "backend/model/attention.h"
#include "benchmarks/best_of.h"

namespace {

// The process's peak resident set so far, in bytes (the meter the PyTorch side reads too).
long peakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss * 1024L;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: attention_bench blockwise|dense T [batch heads kv_heads head_dim block repeats]\n");
    return 2;
  }
  const std::string kind = argv[1];
  const auto arg = [&](int index, long fallback) { return argc > index ? std::atol(argv[index]) : fallback; };
  const std::int64_t length = arg(2, 1024), batch = arg(3, 1), heads = arg(4, 8), kv_heads = arg(5, 8);
  const std::int64_t dim = arg(6, 64), block = arg(7, 128);
  const int repeats = static_cast<int>(arg(8, 3));
  at::set_num_threads(1);
  behemoth::tensor_memory::installCountingAllocator();
  at::manual_seed(0);
  const at::Tensor q = at::randn({batch, heads, length, dim}).requires_grad_(true);
  const at::Tensor k = at::randn({batch, kv_heads, length, dim}).requires_grad_(true);
  const at::Tensor v = at::randn({batch, kv_heads, length, dim}).requires_grad_(true);
  const at::Tensor d_out = at::randn({batch, heads, length, dim});
  behemoth::AttentionSettings settings;
  settings.kind = kind == "dense" ? behemoth::AttentionKind::dense : behemoth::AttentionKind::blockwise;
  settings.block = block;
  const behemoth::ForwardDropout no_dropout;
  const std::int64_t inputs = behemoth::tensor_memory::liveBytes();
  const long rss_before = peakRssBytes();
  behemoth::tensor_memory::resetPeak();
  const auto step = [&] {
    const at::Tensor out = behemoth::attentionCore(q, k, v, no_dropout, 0, settings);
    torch::autograd::grad({out}, {q, k, v}, {d_out});
  };
  step();  // warm-up; its peak is the step's peak
  const std::int64_t peak = behemoth::tensor_memory::peakBytes() - inputs;
  const long rss_growth = peakRssBytes() - rss_before;
  const double seconds = bestSecondsOf(repeats, step);
  std::printf("{\"kind\": \"%s\", \"T\": %ld, \"batch\": %ld, \"heads\": %ld, \"kv_heads\": %ld, \"head_dim\": %ld, "
              "\"block\": %ld, \"seconds\": %.6f, \"peak_bytes\": %ld, \"peak_rss_growth\": %ld}\n",
              kind.c_str(), static_cast<long>(length), static_cast<long>(batch), static_cast<long>(heads),
              static_cast<long>(kv_heads), static_cast<long>(dim), static_cast<long>(block), seconds,
              static_cast<long>(peak), rss_growth);
  return 0;
}
