#include "backend/train/corpus_agreement.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <stdexcept>

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

}  // namespace

void requireSameCorpusOnEveryRank(const Corpus& corpus, Group& group) {
  if (group.size() == 1) return;
  // [hash, size, host...] per rank, gathered in one collective.
  at::Tensor mine = at::zeros({1, 2 + kHostWords}, at::kLong);
  std::int64_t* row = mine.data_ptr<std::int64_t>();
  row[0] = static_cast<std::int64_t>(corpus.contentHash());
  row[1] = corpus.size();
  const std::string host = thisHost();
  std::memcpy(row + 2, host.data(), std::min<std::size_t>(host.size(), kHostWords * 8 - 1));
  const at::Tensor all = group.allGather(mine, 0).contiguous();
  const std::int64_t* table = all.data_ptr<std::int64_t>();
  const std::int64_t width = 2 + kHostWords;
  for (std::int64_t r = 1; r < all.size(0); ++r) {
    const std::int64_t* other = table + r * width;
    if (other[0] == table[0] && other[1] == table[1]) continue;
    throw std::invalid_argument("data.corpus: ranks read different corpora (" + corpus.source.substr(0, corpus.source.find(' ')) +
                                "): rank 0 on " + hostFrom(table + 2) + " has " + std::to_string(table[1]) +
                                " bytes (hash " + hex(table[0]) + "), rank " + std::to_string(r) + " on " +
                                hostFrom(other + 2) + " has " + std::to_string(other[1]) + " bytes (hash " +
                                hex(other[0]) + "); give every node the same data.corpus files");
  }
}

}  // namespace behemoth
