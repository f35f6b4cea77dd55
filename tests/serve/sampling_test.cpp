// Choosing tokens: greedy is argmax, a seed fixes every draw, top-k and top-p keep only what they
// should, and sampled frequencies follow the softmax at the temperature.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "backend/serve/sampling.h"

namespace behemoth {
namespace {

const std::vector<float> kLogits{0.5f, 2.0f, -1.0f, 1.5f, 0.0f, 2.0f};

TEST(Sampling, GreedyIsTheFirstLargestLogit) {
  EXPECT_EQ(sampleToken(kLogits.data(), 6, {0.0}, 0), 1);
  EXPECT_EQ(sampleToken(kLogits.data(), 6, {1.0, 1}, 5), 1);  // top-k 1 is greedy too
}

TEST(Sampling, TheSameSeedAndIndexGiveTheSameTokenAndOtherSeedsDiffer) {
  std::vector<TokenId> a, b, c;
  for (std::uint64_t i = 0; i < 64; ++i) {
    a.push_back(sampleToken(kLogits.data(), 6, {1.0, 0, 1.0, 7}, i));
    b.push_back(sampleToken(kLogits.data(), 6, {1.0, 0, 1.0, 7}, i));
    c.push_back(sampleToken(kLogits.data(), 6, {1.0, 0, 1.0, 8}, i));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Sampling, TopKAndTopPKeepOnlyTheMostLikelyTokens) {
  for (std::uint64_t i = 0; i < 500; ++i) {
    const TokenId k2 = sampleToken(kLogits.data(), 6, {1.0, 2, 1.0, 3}, i);
    EXPECT_TRUE(k2 == 1 || k2 == 5) << k2;
    // Tokens 1 and 5 hold about 0.59 of the mass: top_p 0.5 keeps them and nothing else.
    const TokenId p = sampleToken(kLogits.data(), 6, {1.0, 0, 0.5, 3}, i);
    EXPECT_TRUE(p == 1 || p == 5) << p;
  }
}

TEST(Sampling, FrequenciesFollowTheSoftmaxAtTheTemperature) {
  const double temperature = 0.7;
  std::vector<double> expected(6);
  double total = 0;
  for (int v = 0; v < 6; ++v) total += expected[v] = std::exp(kLogits[v] / temperature);
  std::map<TokenId, int> counts;
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++counts[sampleToken(kLogits.data(), 6, {temperature, 0, 1.0, 99}, i)];
  for (int v = 0; v < 6; ++v) {
    const double p = expected[v] / total;
    // Five standard deviations of a binomial proportion: a wrong distribution fails, chance does not.
    EXPECT_NEAR(counts[v] / static_cast<double>(draws), p, 5 * std::sqrt(p * (1 - p) / draws)) << "token " << v;
  }
}

}  // namespace
}  // namespace behemoth
