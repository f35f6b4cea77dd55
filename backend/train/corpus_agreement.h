// Every rank must train on the same text. The builtin corpus is read from system files, so two
// nodes with different packages installed would silently train on different data; the ranks
// compare a hash of their corpus once at start and refuse to go on when they differ.
#pragma once

#include <cstdint>
#include <string>

#include "backend/data/corpus.h"

namespace behemoth {

class Group;

// A collective over `group`: throws std::invalid_argument ("data.corpus: ...") naming the first
// rank and host whose corpus differs from rank 0's, with both hosts, sizes and hashes.
void requireSameCorpusOnEveryRank(const Corpus& corpus, Group& group);

// The same for a tokenized corpus (after the corpus itself agreed): a node whose tokenizer files
// differ tokenizes the same text differently. Throws std::invalid_argument ("data.tokenizer: ...")
// naming the first differing rank and host, with both token counts and tokenizer digests.
void requireSameTokensOnEveryRank(const std::string& tokenizer_key, std::int64_t token_count, Group& group);

}  // namespace behemoth
