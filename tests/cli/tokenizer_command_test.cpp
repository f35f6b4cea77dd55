// `behemoth tokenizer`: train writes a tokenizer that opens and round-trips; show, encode and
// decode report what it does; mistakes are one line and status 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/command.h"

namespace behemoth {
namespace {

// A small corpus file: enough distinct text for a vocabulary of 400.
std::string writeCorpus(const TempDir& dir) {
  std::string text;
  for (int i = 0; i < 400; ++i) {
    text += "line " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog; tokenizers merge pairs.\n";
  }
  writeFile(dir.file("corpus.txt"), text);
  return dir.file("corpus.txt");
}

void expectOneLineError(const CommandResult& result, const std::string& needle) {
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(needle), std::string::npos) << result.stderr_text;
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1) << result.stderr_text;
}

TEST(TokenizerCommand, TrainThenShowEncodeDecode) {
  const TempDir dir;
  const std::string out = dir.file("tok");
  const CommandResult train = runBehemoth({"tokenizer", "train", writeCorpus(dir), "--vocab", "400", "--out", out});
  ASSERT_EQ(train.exit_code, 0) << train.stderr_text;
  EXPECT_NE(train.stdout_text.find("400 tokens"), std::string::npos) << train.stdout_text;

  const CommandResult show = runBehemoth({"tokenizer", "show", out});
  ASSERT_EQ(show.exit_code, 0) << show.stderr_text;
  const auto described = nlohmann::json::parse(show.stdout_text);
  EXPECT_EQ(described.at("kind"), "sentencepiece");
  EXPECT_EQ(described.at("vocab_size"), 400);
  EXPECT_EQ(described.at("bos"), 1);
  EXPECT_EQ(described.at("eos"), 2);
  EXPECT_EQ(described.at("files").size(), 2u);

  const std::string text = "the lazy fox, 42 times: Ünïcödé";
  const CommandResult encode = runBehemoth({"tokenizer", "encode", out, text});
  ASSERT_EQ(encode.exit_code, 0) << encode.stderr_text;
  std::vector<std::string> decode_args = {"tokenizer", "decode", out};
  std::istringstream ids(encode.stdout_text);
  for (std::string id; ids >> id;) decode_args.push_back(id);
  ASSERT_GT(decode_args.size(), 3u);
  const CommandResult decode = runBehemoth(decode_args);
  ASSERT_EQ(decode.exit_code, 0) << decode.stderr_text;
  EXPECT_EQ(decode.stdout_text, text + "\n");

  // Training again gives the same bytes.
  const CommandResult again =
      runBehemoth({"tokenizer", "train", dir.file("corpus.txt"), "--vocab", "400", "--out", dir.file("again")});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_text;
  EXPECT_TRUE(readFile(out + "/tokenizer.model") == readFile(dir.file("again/tokenizer.model")));
}

TEST(TokenizerCommand, MistakesAreOneLine) {
  const TempDir dir;
  expectOneLineError(runBehemoth({"tokenizer", "train", writeCorpus(dir), "--vocab", "100", "--out", dir.file("t")}),
                     "tokenizer train: --vocab 100 is too small");
  expectOneLineError(
      runBehemoth({"tokenizer", "train", dir.file("missing.txt"), "--vocab", "400", "--out", dir.file("t")}),
      "data.corpus: ");
  expectOneLineError(runBehemoth({"tokenizer", "show", dir.file("nowhere")}), "data.tokenizer: " + dir.file("nowhere"));
  expectOneLineError(runBehemoth({"tokenizer", "decode", "byte", "300"}), "id 300");
}

TEST(TokenizerCommand, MissingSentencePieceModuleIsOneLine) {
  const TempDir dir;
  ASSERT_EQ(runBehemoth({"tokenizer", "train", writeCorpus(dir), "--vocab", "400", "--out", dir.file("tok")}).exit_code,
            0);
  const CommandResult result = runBehemoth({"tokenizer", "show", dir.file("tok")}, std::chrono::seconds(60),
                                           {"BEHEMOTH_SPM_MODULE=" + dir.file("none.so")});
  expectOneLineError(result, "data.tokenizer: " + dir.file("tok/tokenizer.model") +
                                 ": the SentencePiece module libbehemoth_spm.so was not found");
}

}  // namespace
}  // namespace behemoth
