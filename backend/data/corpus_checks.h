// What a worker would otherwise find mid-run about the corpus, checked before launch: the byte
// alphabet against the vocabulary, a training window against seq_len, enough distinct held-out
// windows for train.eval_batches.
#pragma once

#include "backend/data/corpus.h"
#include "backend/project/project.h"

namespace behemoth {

// Throws std::invalid_argument naming the project field to change ("model.vocab_size: ...").
void checkCorpusForProject(const Corpus& corpus, const Project& project);

// The largest byte value in the corpus plus one: the vocabulary the byte tokenizer needs.
int byteAlphabetSize(const Corpus& corpus);

}  // namespace behemoth
