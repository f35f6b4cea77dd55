// The ids a run trains on, from the project's data section: the corpus's bytes for the byte
// tokenizer (today's path, untouched: no cache, no copy), otherwise the corpus's token cache in
// tokenCacheFolder(train.out_dir), tokenized first when it is missing or stale.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "backend/data/corpus.h"
#include "backend/data/token_array.h"
#include "backend/project/project.h"
#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

bool usesByteTokenizer(const DataConfig& data);

// OUT_DIR/../token-cache: beside the run's output, so runs of one project (and its sweeps, whose
// out_dirs share a parent) tokenize a corpus once, and deleting a run keeps the cache.
std::filesystem::path tokenCacheFolder(const std::string& out_dir);

struct TrainingTokens {
  std::shared_ptr<const TokenArray> ids;
  std::string tokenizer;  // the tokenizer's kind: "byte", "bpe", "sentencepiece"
  std::string summary;    // one line for the run's log: tokenizer, tokens, bytes, cache
};

// `tokenizer` must be what project.data.tokenizer opens (tests pass their own). `show_progress`:
// draw the progress bar while tokenizing (when stderr is a terminal).
TrainingTokens trainingTokens(const Project& project, std::shared_ptr<const Corpus> corpus, const Tokenizer& tokenizer,
                              bool show_progress);

}  // namespace behemoth
