#include "backend/train/corpus_agreement.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "backend/data/counter_rng.h"
#include "parallel/group.h"

namespace behemoth {
namespace {

constexpr int kHostWords = 8;  // host names up to 64 bytes travel as 8 int64 words

std::string thisHost() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

std::string hostFrom(const std::int64_t* words) {
  char text[kHostWords * 8 + 1] = {};
  std::memcpy(text, words, kHostWords * 8);
  return text;
}

std::string hex(std::int64_t bits) {
  std::ostringstream out;
  out << std::hex << static_cast<std::uint64_t>(bits);
  return out.str();
}

// Gathers (hash, size, host) of every rank in one collective; returns the first rank whose pair
// differs from rank 0's (0 when all agree), filling the table.
struct Agreement {
  at::Tensor table;
  std::int64_t differing = 0;
  const std::int64_t* row(std::int64_t rank) const { return table.data_ptr<std::int64_t>() + rank * (2 + kHostWords); }
};

Agreement agreeOn(std::uint64_t hash, std::int64_t size, Group& group) {
  at::Tensor mine = at::zeros({1, 2 + kHostWords}, at::kLong);
  std::int64_t* row = mine.data_ptr<std::int64_t>();
  row[0] = static_cast<std::int64_t>(hash);
  row[1] = size;
  const std::string host = thisHost();
  std::memcpy(row + 2, host.data(), std::min<std::size_t>(host.size(), kHostWords * 8 - 1));
  Agreement agreement{group.allGather(mine, 0).contiguous()};
  for (std::int64_t r = 1; r < agreement.table.size(0); ++r) {
    if (agreement.row(r)[0] != agreement.row(0)[0] || agreement.row(r)[1] != agreement.row(0)[1]) {
      agreement.differing = r;
      break;
    }
  }
  return agreement;
}

}  // namespace

void requireSameCorpusOnEveryRank(const Corpus& corpus, Group& group) {
  if (group.size() == 1) return;
  const Agreement agreement = agreeOn(corpus.contentHash(), corpus.size(), group);
  if (agreement.differing == 0) return;
  const std::int64_t* first = agreement.row(0);
  const std::int64_t* other = agreement.row(agreement.differing);
  throw std::invalid_argument("data.corpus: ranks read different corpora (" + corpus.source.substr(0, corpus.source.find(' ')) +
                              "): rank 0 on " + hostFrom(first + 2) + " has " + std::to_string(first[1]) +
                              " bytes (hash " + hex(first[0]) + "), rank " + std::to_string(agreement.differing) + " on " +
                              hostFrom(other + 2) + " has " + std::to_string(other[1]) + " bytes (hash " +
                              hex(other[0]) + "); give every node the same data.corpus files");
}

void requireSameTokensOnEveryRank(const std::string& tokenizer_key, std::int64_t token_count, Group& group) {
  if (group.size() == 1) return;
  const Agreement agreement = agreeOn(stableNameHash(tokenizer_key), token_count, group);
  if (agreement.differing == 0) return;
  const std::int64_t* first = agreement.row(0);
  const std::int64_t* other = agreement.row(agreement.differing);
  throw std::invalid_argument("data.tokenizer: ranks tokenized the corpus differently: rank 0 on " + hostFrom(first + 2) +
                              " has " + std::to_string(first[1]) + " tokens (tokenizer " + hex(first[0]) + "), rank " +
                              std::to_string(agreement.differing) + " on " + hostFrom(other + 2) + " has " +
                              std::to_string(other[1]) + " tokens (tokenizer " + hex(other[0]) +
                              "); give every node the same data.tokenizer files");
}

}  // namespace behemoth
