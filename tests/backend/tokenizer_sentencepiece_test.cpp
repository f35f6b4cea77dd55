// SentencePiece through the module: a BPE tokenizer trained on the builtin corpus with the
// library's trainer gives, on the whole corpus (plus a non-ASCII sample), the same ids as Debian's
// python3-sentencepiece loading the same tokenizer.model, decodes back to the exact text, and all
// of it happens in a process that also runs LibTorch (the two protobufs never meet).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "backend/tokenizer/sentencepiece_training.h"
#include "tests/backend/tokenizer_test_support.h"

namespace behemoth {
namespace {

// A tokenizer trained on the first megabyte of the builtin corpus (training on all of it takes
// about 8 s here; `behemoth tokenizer train builtin` does that, see BENCHMARKS.md).
std::string trainOnBuiltinStart(const TempDir& dir) {
  const auto started = std::chrono::steady_clock::now();
  trainSentencePieceTokenizer(loadCorpus("builtin").bytes.substr(0, 1000000), {/*vocab_size=*/1000}, dir.file("spm"));
  std::cout << "trained in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
  return dir.file("spm");
}

// python3-sentencepiece's ids of `text` with the script's `mode` arguments.
std::vector<TokenId> pythonIds(const TempDir& dir, const std::string& text, const std::string& mode) {
  writeFile(dir.file("text"), text);
  const std::string command = "/usr/bin/python3 " + sourceDir() +
                              "/tests/backend/reference/tokenizer_reference.py spm " + dir.file("spm/tokenizer.model") +
                              " " + dir.file("text") + " " + dir.file("ids") + " " + mode + " > " + dir.file("log") +
                              " 2>&1";
  if (std::system(command.c_str()) != 0)
    ADD_FAILURE() << "tokenizer_reference.py failed: " << readFile(dir.file("log"));
  std::cout << readFile(dir.file("log"));
  return readIds(dir.file("ids"));
}

TEST(TokenizerSentencePiece, MatchesPythonSentencePieceOnWholeBuiltinCorpus) {
  const TempDir dir;
  const auto tokenizer = openTokenizer(trainOnBuiltinStart(dir));
  EXPECT_EQ(tokenizer->kind(), "sentencepiece");
  EXPECT_EQ(tokenizer->vocabSize(), 1000);
  EXPECT_EQ(tokenizer->special().unk, 0);
  EXPECT_EQ(tokenizer->special().bos, 1);
  EXPECT_EQ(tokenizer->special().eos, 2);
  EXPECT_FALSE(tokenizer->special().pad.has_value());
  EXPECT_EQ(tokenizer->files().size(), 2u);  // tokenizer.model, tokenizer_config.json

  const std::string& text = tokenizerTestText();
  const auto started = std::chrono::steady_clock::now();
  const std::vector<TokenId> ids = tokenizer->encode(text);
  std::cout << "engine: " << ids.size() << " tokens in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s\n";
  const std::vector<TokenId> reference = pythonIds(dir, text, "--lines");
  EXPECT_TRUE(ids == reference) << firstDifference(ids, reference);
  EXPECT_TRUE(tokenizer->decode(ids) == text) << "decoding does not give back the text";
  EXPECT_LT(ids.size(), text.size() / 2) << "the merges hardly apply";

  // LibTorch in the same process still works after SentencePiece ran.
  EXPECT_EQ(at::ones({3}).sum().item<float>(), 3.0f);
}

// The engine encodes line by line (faster); the library's one call on the whole text gives the same ids.
TEST(TokenizerSentencePiece, LineByLineEqualsOneCallOnTheWholeText) {
  const TempDir dir;
  const auto tokenizer = openTokenizer(trainOnBuiltinStart(dir));
  const std::string text =
      "\n\n  leading newlines" + loadCorpus("builtin").bytes.substr(2000000, 1000000) + tokenizerTestSample();
  const std::vector<TokenId> ids = tokenizer->encode(text);
  const std::vector<TokenId> reference = pythonIds(dir, text, "");
  EXPECT_TRUE(ids == reference) << firstDifference(ids, reference);
}

TEST(TokenizerSentencePiece, TrainingIsDeterministic) {
  const std::string text = loadCorpus("builtin").bytes.substr(0, 200000);
  const std::string once = trainSentencePiece(text, {/*vocab_size=*/600});
  const std::string again = trainSentencePiece(text, {/*vocab_size=*/600});
  EXPECT_FALSE(once.empty());
  EXPECT_TRUE(once == again) << "two trainings on one text differ";
}

TEST(TokenizerSentencePiece, TrainerRefusalsAreOneLine) {
  const std::string text = loadCorpus("builtin").bytes.substr(0, 20000);
  for (const std::int64_t vocab : {std::int64_t{100}, std::int64_t{300}, std::int64_t{1000000}}) {
    try {
      trainSentencePiece(text, {vocab});
      ADD_FAILURE() << "vocab " << vocab << " was accepted";
    } catch (const std::invalid_argument& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind("tokenizer train: ", 0), 0u) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
  // Too small for the text's characters: the message names the least size, and that size trains.
  try {
    trainSentencePiece(text, {/*vocab_size=*/300});
    ADD_FAILURE() << "vocab 300 was accepted";
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    const std::string marker =
        "is too small for this corpus: its characters, 256 byte pieces and 3 special tokens need at least ";
    const std::size_t at = message.find(marker);
    ASSERT_NE(at, std::string::npos) << message;
    const std::int64_t least = std::stoll(message.substr(at + marker.size()));
    EXPECT_GT(least, 300);
    EXPECT_FALSE(trainSentencePiece(text, {least}).empty());
  }
}

TEST(TokenizerSentencePiece, ConfigurationBesideTheModelRenamesSpecialTokens) {
  const TempDir dir;
  trainSentencePieceTokenizer(loadCorpus("builtin").bytes.substr(0, 50000), {/*vocab_size=*/400}, dir.path());
  writeFile(dir.file("tokenizer_config.json"), R"({"bos_token": "<s>", "eos_token": "<s>", "pad_token": "</s>"})");
  const auto tokenizer = openTokenizer(dir.file("tokenizer.model"));
  EXPECT_EQ(tokenizer->special().bos, 1);
  EXPECT_EQ(tokenizer->special().eos, 1);
  EXPECT_EQ(tokenizer->special().pad, 2);
  EXPECT_EQ(tokenizer->special().unk, 0);  // not named: the model's
  writeFile(dir.file("tokenizer_config.json"), R"({"bos_token": "<|begin|>"})");
  try {
    openTokenizer(dir.path());
    ADD_FAILURE() << "an unknown bos_token was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), "data.tokenizer: " + dir.file("tokenizer_config.json") +
                                             ": bos_token '<|begin|>' is not a piece of the SentencePiece model");
  }
}

}  // namespace
}  // namespace behemoth
