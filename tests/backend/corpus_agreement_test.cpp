// Ranks agree on their corpus before training: a rank that read other text stops the run, and
// every rank's message names both hosts, the sizes and the hashes.
#include <gtest/gtest.h>

#include <unistd.h>

#include "backend/data/corpus.h"
#include "backend/data/corpus_checks.h"
#include "backend/train/corpus_agreement.h"
#include "parallel/world.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

Plan everyRankDataParallel(int world_size) {
  Plan plan;
  plan.resolve(world_size);
  return plan;
}

Corpus textCorpus(const std::string& text) {
  Corpus corpus;
  corpus.bytes = text;
  corpus.source = "builtin (test)";
  return corpus;
}

std::string hostName() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

TEST(CorpusAgreement, RanksWithTheSameTextGoOn) {
  const auto run = runOnRanks(2, [](const WorldInfo& info) {
    ProcessWorld world(info, everyRankDataParallel(info.world_size));
    requireSameCorpusOnEveryRank(textCorpus("the same text on every rank"), world.world());
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

TEST(CorpusAgreement, ARankWithOtherTextStopsEveryRankNamingTheHosts) {
  const auto run = runOnRanks(3, [](const WorldInfo& info) {
    ProcessWorld world(info, everyRankDataParallel(info.world_size));
    // Rank 2 has one byte more, as a node with another version of a system file would.
    requireSameCorpusOnEveryRank(textCorpus(info.rank == 2 ? "system files, version B." : "system files, version B"),
                                 world.world());
  });
  ASSERT_EQ(run.size(), 3u);
  for (const RankOutcome& outcome : run) {
    EXPECT_FALSE(outcome.ok) << "rank " << outcome.rank << " went on with another corpus";
    EXPECT_NE(outcome.message.find("data.corpus: ranks read different corpora"), std::string::npos) << outcome.message;
    EXPECT_NE(outcome.message.find("rank 2 on " + hostName() + " has 24 bytes"), std::string::npos) << outcome.message;
    EXPECT_NE(outcome.message.find("rank 0 on " + hostName() + " has 23 bytes"), std::string::npos) << outcome.message;
  }
}

TEST(CorpusAgreement, ARankWithAnotherTokenizerStopsEveryRank) {
  const auto same = runOnRanks(2, [](const WorldInfo& info) {
    ProcessWorld world(info, everyRankDataParallel(info.world_size));
    requireSameTokensOnEveryRank("sentencepiece abc", 1000, world.world());
  });
  EXPECT_TRUE(expectAllRanksOk(same));
  const auto run = runOnRanks(2, [](const WorldInfo& info) {
    ProcessWorld world(info, everyRankDataParallel(info.world_size));
    // Rank 1's tokenizer files differ; the count happens to be equal.
    requireSameTokensOnEveryRank(info.rank == 1 ? "sentencepiece abd" : "sentencepiece abc", 1000, world.world());
  });
  ASSERT_EQ(run.size(), 2u);
  for (const RankOutcome& outcome : run) {
    EXPECT_FALSE(outcome.ok) << "rank " << outcome.rank << " went on with another tokenizer";
    EXPECT_NE(outcome.message.find("data.tokenizer: ranks tokenized the corpus differently: rank 0 on " + hostName() +
                                   " has 1000 tokens"),
              std::string::npos)
        << outcome.message;
    EXPECT_NE(outcome.message.find("rank 1 on " + hostName() + " has 1000 tokens"), std::string::npos) << outcome.message;
  }
}

TEST(CorpusChecks, TheByteAlphabetIsTheLargestByteValuePlusOne) {
  EXPECT_EQ(byteAlphabetSize(textCorpus("abc")), 'c' + 1);
  EXPECT_EQ(byteAlphabetSize(textCorpus(std::string("a\xff", 2))), 256);
  EXPECT_EQ(byteAlphabetSize(textCorpus("")), 0);
}

TEST(CorpusChecks, SameBytesSameHashOtherBytesOtherHash) {
  EXPECT_EQ(textCorpus("abc").contentHash(), textCorpus("abc").contentHash());
  EXPECT_NE(textCorpus("abc").contentHash(), textCorpus("abd").contentHash());
  EXPECT_NE(textCorpus("abc").contentHash(), textCorpus("abc ").contentHash());
}

}  // namespace
}  // namespace behemoth
