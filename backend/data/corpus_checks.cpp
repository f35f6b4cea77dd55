#include "backend/data/corpus_checks.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "backend/data/batch_sampler.h"
#include "backend/data/training_tokens.h"

namespace behemoth {
namespace {

std::string str(std::int64_t value) { return std::to_string(value); }

}  // namespace

int byteAlphabetSize(const Corpus& corpus) {
  unsigned char largest = 0;
  for (const char c : corpus.bytes) largest = std::max(largest, static_cast<unsigned char>(c));
  return corpus.bytes.empty() ? 0 : int(largest) + 1;
}

void checkCorpusForProject(const Corpus& corpus, const Project& project) {
  const ModelConfig& model = project.model;
  const int alphabet = byteAlphabetSize(corpus);
  if (alphabet > model.vocab_size) {
    throw std::invalid_argument("model.vocab_size: " + str(model.vocab_size) + " is smaller than the alphabet of data.corpus (" +
                                corpus.source + "): the byte tokenizer needs byte values up to " + str(alphabet - 1) +
                                ", so set model.vocab_size >= " + str(alphabet));
  }
  checkTokensForProject(*corpusBytes(std::shared_ptr<const Corpus>(&corpus, [](const Corpus*) {})), corpus.source, project);
}

void checkTokenizerForProject(const Tokenizer& tokenizer, const Project& project) {
  // The byte tokenizer is held to the corpus's alphabet instead (checkCorpusForProject): an ASCII
  // corpus trains with a vocabulary of 128.
  if (usesByteTokenizer(project.data)) return;
  const std::int64_t vocab = tokenizer.vocabSize();
  if (vocab > project.model.vocab_size) {
    throw std::invalid_argument("data.tokenizer: " + project.data.tokenizer + " has " + str(vocab) + " tokens (" +
                                tokenizer.kind() + "), more than model.vocab_size " + str(project.model.vocab_size) +
                                "; set model.vocab_size >= " + str(vocab) + " or use another tokenizer");
  }
}

void checkTokensForProject(const TokenArray& ids, const std::string& source, const Project& project) {
  const ModelConfig& model = project.model;
  const std::string unit = ids.unit();
  const std::int64_t window = std::int64_t{model.seq_len} + 1;
  if (ids.size() < window) {
    throw std::invalid_argument("model.seq_len: " + str(model.seq_len) + " needs windows of " + str(window) + " " + unit +
                                ", but data.corpus (" + source + ") holds " + str(ids.size()) + " " + unit +
                                "; lower model.seq_len or give a larger corpus");
  }
  SamplerOptions sampling;
  sampling.seq_len = model.seq_len;
  sampling.global_batch_size = project.data.global_batch_size;
  sampling.seed = project.train.seed;
  sampling.eval_fraction = project.data.eval_fraction;
  // The sampler refuses a training split without one window (naming data.corpus).
  const BatchSampler sampler(std::shared_ptr<const TokenArray>(&ids, [](const TokenArray*) {}), sampling);
  if (project.train.eval_every > 0) {
    const std::int64_t needed = std::int64_t{project.train.eval_batches} * project.data.global_batch_size;
    if (sampler.evalWindowCount() < needed) {
      throw std::invalid_argument(
          "train.eval_batches: " + str(project.train.eval_batches) + " batches of data.global_batch_size " +
          str(project.data.global_batch_size) + " need " + str(needed) + " distinct held-out windows of model.seq_len + 1 = " +
          str(window) + " " + unit + ", but data.eval_fraction " + std::to_string(project.data.eval_fraction).substr(0, 6) +
          " of data.corpus holds " + str(sampler.evalWindowCount()) +
          "; lower train.eval_batches, raise data.eval_fraction or set train.eval_every 0");
    }
  }
}

void checkDataForProject(const Project& project) {
  const auto tokenizer = openTokenizer(project.data.tokenizer);
  checkTokenizerForProject(*tokenizer, project);
  auto corpus = std::make_shared<const Corpus>(loadCorpus(project.data.corpus));
  if (usesByteTokenizer(project.data)) {
    checkCorpusForProject(*corpus, project);
    return;
  }
  const std::string source = corpus->source + " tokenized by data.tokenizer";
  const TrainingTokens tokens = trainingTokens(project, std::move(corpus), *tokenizer, /*show_progress=*/true);
  checkTokensForProject(*tokens.ids, source, project);
}

}  // namespace behemoth
