// Training on a tokenizer's ids end to end: the trainer tokenizes the corpus into its cache, draws
// batches of token windows, and every data-parallel layout trains on the same tokens.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend/tokenizer/tokenizer.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

// Ids beyond the byte range: byte b is id 7b mod 300 (7 is prime to 300, so no two bytes share an
// id), and end-of-text is 299 (no byte maps there). A vocabulary of 300 needs model.vocab_size 300.
class SpreadTokenizer final : public Tokenizer {
 public:
  std::string kind() const override { return "spread"; }
  std::int64_t vocabSize() const override { return 300; }
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    for (const char c : text) ids.push_back(static_cast<TokenId>(static_cast<unsigned char>(c) * 7 % 300));
    return ids;
  }
  std::string decode(const std::vector<TokenId>&) const override { return {}; }
  SpecialTokens special() const override {
    SpecialTokens tokens;
    tokens.eos = 299;
    return tokens;
  }
  std::string contentKey() const override { return "spread 7 300"; }
  std::vector<std::filesystem::path> files() const override { return {}; }
};

TEST(TokenTraining, DataParallelRanksTrainOnTheSameTokensAsOneProcess) {
  Project project = tinyProject(Arch::gpt);
  project.data.tokenizer = "/spread";  // any name but "byte": the options' tokenizer is used
  project.model.vocab_size = 300;
  TrainerOptions options;
  options.tokenizer = std::make_shared<const SpreadTokenizer>();
  const ParityRun one = trainOnRanks(project, 1, options);
  ASSERT_FALSE(one.losses.empty());
  for (const double loss : one.losses) EXPECT_TRUE(std::isfinite(loss));
  // The first step's loss is about ln(300): the ids spread over the whole vocabulary.
  EXPECT_NEAR(one.losses.front(), std::log(300.0), 0.3);
  project.plan.dp = 2;
  expectSameTraining(one, trainOnRanks(project, 2, options), 1e-5);
}

}  // namespace
}  // namespace behemoth
