// Every rank must train on the same text. The builtin corpus is read from system files, so two
// nodes with different packages installed would silently train on different data; the ranks
// compare a hash of their corpus once at start and refuse to go on when they differ.
#pragma once

#include "backend/data/corpus.h"

namespace behemoth {

class Group;

// A collective over `group`: throws std::invalid_argument ("data.corpus: ...") naming the first
// rank and host whose corpus differs from rank 0's, with both hosts, sizes and hashes.
void requireSameCorpusOnEveryRank(const Corpus& corpus, Group& group);

}  // namespace behemoth
