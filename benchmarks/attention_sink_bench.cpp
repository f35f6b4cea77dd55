// A conversation ten times longer than model.seq_len through the serving path, scored on held-out
// text: each token goes through the paged KV cache (ServeModel) the way `behemoth serve` feeds a
// generating sequence, and when the context outgrows seq_len the server's own rule
// (keepSinksAndWindow) keeps the first `sinks` and the last `window` tokens. Prints one JSON line:
// per turn, the perplexity of the turn's tokens, the mean and worst milliseconds per token and the
// most tokens the cache held; and the in-window perplexity of the same tokens, each predicted by a
// plain forward over its seq_len-long chunk (the context the model was trained on).
// benchmarks/attention_sinks.py trains the model and runs this.
//
//   build/bin/attention_sink_bench PROJECT TEXT_FILE [window sinks turns]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/model/language_model.h"
#include "backend/project/project.h"
#include "backend/serve/attention_sinks.h"
#include "backend/serve/serve_model.h"
#include "backend/serve/serve_weights.h"
#include "backend/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string readText(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error(path + ": cannot read");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// -log p(target) from one row of logits.
double negativeLogLikelihood(const at::Tensor& logits, std::int64_t target) {
  return -at::log_softmax(logits.to(at::kDouble), 0)[target].item<double>();
}

struct Turn {
  double nll_sum = 0;
  int tokens = 0;
  double seconds_sum = 0;
  double worst_seconds = 0;
  std::int64_t most_cached = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: attention_sink_bench PROJECT TEXT_FILE [window sinks turns]\n");
    return 2;
  }
  try {
    at::set_num_threads(1);
    torch::NoGradGuard no_grad;
    const behemoth::Project project = behemoth::loadProject(argv[1]);
    const std::int64_t seq_len = project.model.seq_len;
    const int window = argc > 3 ? std::atoi(argv[3]) : static_cast<int>(seq_len / 2);
    const int sinks = argc > 4 ? std::atoi(argv[4]) : 4;
    const int turns = argc > 5 ? std::atoi(argv[5]) : 20;
    if (sinks + window >= seq_len) throw std::invalid_argument("sinks + window must be below model.seq_len");
    const auto checkpoints = behemoth::listCheckpoints(project.train.out_dir);
    if (checkpoints.empty()) throw std::invalid_argument(project.train.out_dir + ": no checkpoint to score");
    const auto model = behemoth::loadServedModel(
        project.model, {behemoth::WeightsSource::Kind::checkpoint, checkpoints.back().dir, project.train.seed});
    model->eval();
    const auto tokenizer = behemoth::openTokenizer(project.data.tokenizer);
    const std::vector<behemoth::TokenId> ids = tokenizer->encode(readText(argv[2]));
    const std::int64_t scored = 10 * seq_len;  // tokens predicted: the conversation's length
    if (static_cast<std::int64_t>(ids.size()) < scored + 1) throw std::invalid_argument("the text is shorter than 10 x seq_len tokens");
    const std::vector<std::int64_t> text(ids.begin(), ids.begin() + scored + 1);

    // The serving path: one sequence through the paged cache, under the server's sink rule.
    const int block_tokens = 16;
    const int blocks = static_cast<int>((seq_len + block_tokens - 1) / block_tokens);
    behemoth::ServeModel serving(model, blocks, block_tokens);
    std::vector<int> table(blocks);
    for (int b = 0; b < blocks; ++b) table[b] = b;
    std::vector<Turn> turn_stats(turns);
    std::vector<std::int64_t> context;
    std::int64_t cached = 0;
    for (std::int64_t i = 0; i < scored; ++i) {
      context.push_back(text[i]);
      if (static_cast<std::int64_t>(context.size()) > seq_len) {
        context = behemoth::keepSinksAndWindow(context, sinks, window);
        cached = 0;  // the kept tokens are computed again at their new positions
      }
      behemoth::StepBatch step;
      step.sequences.push_back({table, cached, {context.begin() + cached, context.end()}, true});
      const Clock::time_point start = Clock::now();
      const at::Tensor logits = serving.step(step)[0];
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      cached = static_cast<std::int64_t>(context.size());
      Turn& turn = turn_stats[static_cast<std::size_t>(i * turns / scored)];
      turn.nll_sum += negativeLogLikelihood(logits, text[i + 1]);
      ++turn.tokens;
      turn.seconds_sum += seconds;
      turn.worst_seconds = std::max(turn.worst_seconds, seconds);
      turn.most_cached = std::max(turn.most_cached, cached);
    }

    // In-window: the same predictions from plain forwards over seq_len-long chunks.
    double in_window_nll = 0;
    for (std::int64_t start = 0; start < scored; start += seq_len) {
      const std::int64_t length = std::min(seq_len, scored - start);
      const at::Tensor input = at::tensor(std::vector<std::int64_t>(text.begin() + start, text.begin() + start + length)).unsqueeze(0);
      const at::Tensor logits = model->forward(input)[0];
      for (std::int64_t t = 0; t < length; ++t) in_window_nll += negativeLogLikelihood(logits[t], text[start + t + 1]);
    }

    double streamed_nll = 0;
    std::printf("{\"seq_len\": %ld, \"window\": %d, \"sinks\": %d, \"tokens\": %ld, \"turns\": [", static_cast<long>(seq_len), window,
                sinks, static_cast<long>(scored));
    for (int t = 0; t < turns; ++t) {
      const Turn& turn = turn_stats[t];
      streamed_nll += turn.nll_sum;
      std::printf("%s{\"perplexity\": %.4f, \"mean_ms_per_token\": %.4f, \"worst_ms_per_token\": %.4f, \"most_cached\": %ld}",
                  t ? ", " : "", std::exp(turn.nll_sum / turn.tokens), 1e3 * turn.seconds_sum / turn.tokens,
                  1e3 * turn.worst_seconds, static_cast<long>(turn.most_cached));
    }
    std::printf("], \"streamed_perplexity\": %.4f, \"in_window_perplexity\": %.4f}\n", std::exp(streamed_nll / scored),
                std::exp(in_window_nll / scored));
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "attention_sink_bench: %s\n", error.what());
    return 1;
  }
}
