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

namespace behemoth {
namespace {

// The whole path a user takes: a tokenizer trained here, a run on it exported to Hugging Face form
// (tokenizer files beside the weights), then the vocabulary extended with two whole tokens.
TEST(TokenizerCommand, ExtendGrowsAnExportedModelsTokenizerAndEmbedding) {
  const TempDir dir;
  const std::string tokenizer = dir.file("tok");
  ASSERT_EQ(runBehemoth({"tokenizer", "train", writeCorpus(dir), "--vocab", "400", "--out", tokenizer}).exit_code, 0);
  const nlohmann::json project = {
      {"name", "extend"},
      {"model", {{"arch", "llama"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 16}, {"seq_len", 16}, {"vocab_size", 400}}},
      {"data", {{"corpus", dir.file("corpus.txt")}, {"tokenizer", tokenizer}, {"global_batch_size", 4}}},
      {"train", {{"steps", 2}, {"out_dir", dir.file("run")}, {"export_hf", true}}}};
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--no-history"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const std::string exported = dir.file("run") + "/hf";
  ASSERT_TRUE(std::filesystem::is_regular_file(exported + "/tokenizer.model")) << "the export has no tokenizer";

  writeFile(dir.file("new.txt"), "Behemoth\nZeRO3\nthe\n");
  const CommandResult extend =
      runBehemoth({"tokenizer", "extend", exported, "--tokens", dir.file("new.txt"), "--out", dir.file("grown")});
  ASSERT_EQ(extend.exit_code, 0) << extend.stderr_text;
  EXPECT_NE(extend.stdout_text.find("added 2 tokens (ids 400 to 401); 1 were single tokens already; vocabulary 400 -> 402"),
            std::string::npos)
      << extend.stdout_text;
  const auto shown = nlohmann::json::parse(runBehemoth({"tokenizer", "show", dir.file("grown")}).stdout_text);
  EXPECT_EQ(shown.at("vocab_size"), 402);
  EXPECT_EQ(nlohmann::json::parse(readFile(dir.file("grown") + "/config.json")).at("vocab_size"), 402);
  // SentencePiece's dummy prefix comes first as its own piece; the new token follows whole.
  const std::string ids = runBehemoth({"tokenizer", "encode", dir.file("grown"), "Behemoth ZeRO3"}).stdout_text;
  EXPECT_NE(ids.find(" 400 "), std::string::npos) << ids;
  EXPECT_NE(ids.find(" 401\n"), std::string::npos) << ids;
  EXPECT_EQ(runBehemoth({"tokenizer", "decode", dir.file("grown"), "400", "401"}).stdout_text, "BehemothZeRO3\n");

  const CommandResult taken =
      runBehemoth({"tokenizer", "extend", exported, "--tokens", dir.file("new.txt"), "--out", dir.file("grown")});
  expectOneLineError(taken, "exists and is not empty");
}

}  // namespace
}  // namespace behemoth
