// What a worker would otherwise find mid-run about the data, checked before launch: the tokenizer
// opens and its vocabulary fits the model's (the byte alphabet for the byte tokenizer), a training
// window against seq_len, enough distinct held-out windows for train.eval_batches.
#pragma once

#include "backend/data/corpus.h"
#include "backend/data/token_array.h"
#include "backend/project/project.h"
#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

// The byte tokenizer's checks on the corpus's bytes. Throws std::invalid_argument naming the
// project field to change ("model.vocab_size: ...").
void checkCorpusForProject(const Corpus& corpus, const Project& project);

// A tokenizer other than "byte" must not give ids the embedding lacks: refuses a vocabSize()
// above model.vocab_size ("data.tokenizer: PATH has N tokens ..., more than model.vocab_size M").
void checkTokenizerForProject(const Tokenizer& tokenizer, const Project& project);

// The window and held-out checks on `ids` (the corpus's bytes or its tokens); `source` names the
// corpus in messages.
void checkTokensForProject(const TokenArray& ids, const std::string& source, const Project& project);

// All of the above for project.data: reads the corpus, opens the tokenizer and (when it is not
// "byte") tokenizes the corpus into its cache, with the progress bar when stderr is a terminal.
void checkDataForProject(const Project& project);

// The largest byte value in the corpus plus one: the vocabulary the byte tokenizer needs.
int byteAlphabetSize(const Corpus& corpus);

}  // namespace behemoth
