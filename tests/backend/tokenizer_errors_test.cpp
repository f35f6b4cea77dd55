// Bad tokenizer input: each case is refused with one line, "data.tokenizer: PATH: problem".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backend/tokenizer/byte_level.h"
#include "backend/tokenizer/tokenizer.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

std::string errorOf(const std::string& spec) {
  try {
    openTokenizer(spec);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "(no error)";
}

void expectError(const std::string& spec, const std::string& path, const std::string& problem) {
  const std::string message = errorOf(spec);
  EXPECT_EQ(message.rfind("data.tokenizer: " + path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(problem), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

nlohmann::json byteVocab() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[toByteLevel(std::string(1, static_cast<char>(b)))] = b;
  return vocab;
}

nlohmann::json tokenizerJson() {
  return {{"model", {{"type", "BPE"}, {"vocab", byteVocab()}, {"merges", nlohmann::json::array({"a b"})}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"normalizer", nullptr}};
}

TEST(TokenizerErrors, MissingPathAndEmptyFolder) {
  const TempDir dir;
  expectError(dir.file("nowhere"), dir.file("nowhere"), "does not exist");
  expectError(dir.path(), dir.path(), "holds no tokenizer files");
  writeFile(dir.file("notes.txt"), "hello");
  expectError(dir.file("notes.txt"), dir.file("notes.txt"), "is not a tokenizer file");
}

TEST(TokenizerErrors, MalformedJsonAndWrongModelType) {
  const TempDir dir;
  writeFile(dir.file("tokenizer.json"), "{\"model\": ");
  expectError(dir.path(), dir.file("tokenizer.json"), "malformed JSON");
  nlohmann::json unigram = tokenizerJson();
  unigram["model"]["type"] = "Unigram";
  writeFile(dir.file("tokenizer.json"), unigram.dump());
  expectError(dir.path(), dir.file("tokenizer.json"), "model.type is 'Unigram'");
  nlohmann::json metaspace = tokenizerJson();
  metaspace["pre_tokenizer"] = {{"type", "Metaspace"}};
  writeFile(dir.file("tokenizer.json"), metaspace.dump());
  expectError(dir.path(), dir.file("tokenizer.json"), "is not byte-level");
  nlohmann::json split = tokenizerJson();
  split["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  writeFile(dir.file("tokenizer.json"), split.dump());
  expectError(dir.path(), dir.file("tokenizer.json"), "an expression the engine does not know: \\w+");
}

TEST(TokenizerErrors, MergesNamingUnknownTokens) {
  const TempDir dir;
  nlohmann::json json = tokenizerJson();
  json["model"]["merges"] = {"a b", "ab q"};
  json["model"]["vocab"]["ab"] = 256;
  writeFile(dir.file("tokenizer.json"), json.dump());
  expectError(dir.path(), dir.file("tokenizer.json"),
              "model.merges[1]: merge 'ab q' names 'abq', which is not in the vocabulary");
  json["model"]["merges"] = {"a b", "abc"};
  writeFile(dir.file("tokenizer.json"), json.dump());
  expectError(dir.path(), dir.file("tokenizer.json"), "model.merges[1]: 'abc' is not two tokens");

  const TempDir pair;
  nlohmann::json vocab = byteVocab();
  writeFile(pair.file("vocab.json"), vocab.dump());
  expectError(pair.path(), pair.path(), "has vocab.json but no merges.txt");
  writeFile(pair.file("merges.txt"), "#version: 0.2\nx y\n\u00e9\u00e9 z\n");
  vocab["xy"] = 256;
  writeFile(pair.file("vocab.json"), vocab.dump());
  expectError(pair.path(), pair.file("merges.txt"), "line 3: merge '\u00e9\u00e9 z' names '\u00e9\u00e9'");
}

TEST(TokenizerErrors, VocabularyWithoutEveryByte) {
  const TempDir dir;
  nlohmann::json json = tokenizerJson();
  json["model"]["vocab"].erase(toByteLevel("\n"));
  json["model"]["merges"] = nlohmann::json::array();
  writeFile(dir.file("tokenizer.json"), json.dump());
  expectError(dir.path(), dir.file("tokenizer.json"), "no token for byte 10");
}

TEST(TokenizerErrors, SpecialTokenNotInVocabulary) {
  const TempDir dir;
  nlohmann::json json = tokenizerJson();
  json["model"]["merges"] = nlohmann::json::array();
  writeFile(dir.file("tokenizer.json"), json.dump());
  writeFile(dir.file("tokenizer_config.json"), R"({"bos_token": "<|begin_of_text|>"})");
  expectError(dir.path(), dir.file("tokenizer_config.json"), "bos_token '<|begin_of_text|>' is not in the vocabulary");
  writeFile(dir.file("tokenizer_config.json"), R"({"eos_token": 7})");
  expectError(dir.path(), dir.file("tokenizer_config.json"), "eos_token is neither a string nor an object");
}

TEST(TokenizerErrors, NotASentencePieceModel) {
  const TempDir dir;
  writeFile(dir.file("tokenizer.model"), "this is not a protobuf");
  expectError(dir.path(), dir.file("tokenizer.model"), "is not a SentencePiece model");
}

}  // namespace
}  // namespace behemoth
