// Vocabulary extension (`behemoth tokenizer extend`, Colossal-LLaMA-2's recipe): the tokenizer
// gains whole tokens with the next ids, the embedding and head gain rows equal to the mean of the
// old rows, and nothing else changes, so the model's logits on the old tokens are the original's.
// The extended SentencePiece model is read by Debian's python3-sentencepiece, independently.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

#include "backend/data/corpus.h"
#include "backend/hf/vocabulary_growth.h"
#include "backend/model/hf_config.h"
#include "backend/model/language_model.h"
#include "backend/tokenizer/byte_level.h"
#include "backend/tokenizer/sentencepiece_training.h"
#include "backend/tokenizer/tokenizer.h"
#include "backend/tokenizer/vocabulary_extension.h"
#include "tests/support/command.h"
#include "tests/support/hf_reference.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using Parameters = std::vector<std::pair<std::string, at::Tensor>>;

// A byte-level BPE of the 256 byte symbols and no merges: the vocabulary of the reference models.
void writeByteBpe(const std::string& dir) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[toByteLevel(std::string(1, static_cast<char>(b)))] = b;
  const nlohmann::json json = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}},
                               {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
                               {"added_tokens", nlohmann::json::array()}};
  writeFile(dir + "/tokenizer.json", json.dump());
}

at::Tensor logitsOf(const std::string& dir, const Parameters& parameters) {
  const auto model = buildModel(modelConfigFromHfFile(dir + "/config.json"), 1);
  at::NoGradGuard no_grad;
  const auto built = model->named_parameters();
  for (const auto& [name, value] : parameters) built[name].copy_(value);
  model->eval();
  const at::Tensor tokens = at::tensor(std::vector<std::int64_t>{1, 5, 2, 9, 3, 7, 200, 31, 7, 0, 4, 4, 10, 2, 255, 128});
  return model->forward(tokens.view({2, 8}));
}

// Every tensor but the grown ones is unchanged; grown ones keep their old rows and get mean rows;
// the logits over the old vocabulary are the original model's.
void expectGrownModel(const std::string& before, const std::string& after, std::int64_t old_rows, std::int64_t new_rows) {
  const Parameters original = importedParameters(before);
  const Parameters grown = importedParameters(after);
  ASSERT_EQ(original.size(), grown.size());
  for (std::size_t k = 0; k < original.size(); ++k) {
    const at::Tensor& old_value = original[k].second;
    const at::Tensor& new_value = grown[k].second;
    if (old_value.sizes() == new_value.sizes()) {
      EXPECT_TRUE(at::equal(old_value, new_value)) << original[k].first << " changed";
      continue;
    }
    SCOPED_TRACE(original[k].first);
    ASSERT_EQ(new_value.size(0), new_rows);
    EXPECT_TRUE(at::equal(old_value.narrow(0, 0, old_rows), new_value.narrow(0, 0, old_rows)));
    // The mean is summed in double by the tool and here; the two orders agree far below fp32's step.
    const at::Tensor mean = old_value.narrow(0, 0, old_rows).to(at::kDouble).mean(0).to(at::kFloat);
    for (std::int64_t r = old_rows; r < new_rows; ++r) EXPECT_TRUE(at::allclose(new_value[r], mean, 1e-6, 1e-7)) << "row " << r;
  }
  const at::Tensor before_logits = logitsOf(before, original);
  const at::Tensor after_logits = logitsOf(after, grown);
  EXPECT_EQ(after_logits.size(-1), new_rows);
  EXPECT_TRUE(at::equal(before_logits.narrow(-1, 0, old_rows), after_logits.narrow(-1, 0, old_rows)))
      << "largest difference "
      << (before_logits.narrow(-1, 0, old_rows) - after_logits.narrow(-1, 0, old_rows)).abs().max().item<double>();
}

TEST(VocabularyExtension, BpeGainsWholeTokensAndTheOldLogitsStay) {
  const TempDir dir;
  const std::string base = dir.file("base");
  fs::copy(hfReferenceDir("gpt2"), base, fs::copy_options::recursive);
  writeByteBpe(base);
  const TokenizerExtension extension = extendTokenizer(base, {"Behemoth", "<think>", "q", "Behemoth"});
  EXPECT_EQ(extension.added, (std::vector<std::string>{"Behemoth", "<think>"}));
  EXPECT_EQ(extension.already_present, (std::vector<std::string>{"q"}));
  EXPECT_EQ(extension.old_size, 256);
  EXPECT_EQ(extension.new_size, 258);
  const std::string grown = dir.file("grown");
  const VocabularyGrowth growth = growHfVocabulary(base, grown, 256, 258, extension.files, false);
  EXPECT_EQ(growth.grown_tensors, (std::vector<std::string>{"wte.weight"}));  // tied: the head is the embedding
  EXPECT_EQ(readJsonFile(grown + "/config.json").at("vocab_size"), 258);

  const auto tokenizer = openTokenizer(grown);
  const std::vector<TokenId> ids = tokenizer->encode("a Behemoth<think>b");
  EXPECT_EQ(ids, (std::vector<TokenId>{'a', ' ', 256, 257, 'b'}));
  EXPECT_EQ(tokenizer->decode(ids), "a Behemoth<think>b");
  expectGrownModel(base, grown, 256, 258);
}

TEST(VocabularyExtension, SentencePiecePiecesAreWhatPythonSentencePieceReads) {
  const TempDir dir;
  const std::string trained = dir.file("spm");
  trainSentencePieceTokenizer(loadCorpus("builtin", 200'000).bytes, {400}, trained);
  // The reference LLaMA (untied head) resized to the tokenizer's 400 ids, with its files.
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : fs::directory_iterator(trained)) {
    files.emplace_back(entry.path().filename().string(), readFile(entry.path().string()));
  }
  const std::string base = dir.file("base");
  growHfVocabulary(hfReferenceDir("llama"), base, 256, 400, files, false);
  const TokenizerExtension extension = extendTokenizer(base, {"Behemoth", "ZeRO3"});
  ASSERT_EQ(extension.added.size(), 2u);
  const std::string grown = dir.file("grown");
  const VocabularyGrowth growth = growHfVocabulary(base, grown, 400, 402, extension.files, false);
  EXPECT_EQ(growth.grown_tensors.size(), 2u);  // the embedding and the untied head

  const std::string text = "the Behemoth trains ZeRO3 and ZeRO-3";
  const auto tokenizer = openTokenizer(grown);
  EXPECT_EQ(tokenizer->vocabSize(), 402);
  const std::vector<TokenId> ids = tokenizer->encode(text);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 400), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), 401), ids.end());
  EXPECT_EQ(tokenizer->decode(ids), text);
  const std::string script = "import json, sys, sentencepiece as s; p = s.SentencePieceProcessor(model_file=sys.argv[1]); "
                             "json.dump({'size': p.get_piece_size(), 'ids': p.encode(sys.argv[2]), "
                             "'pieces': [p.id_to_piece(400), p.id_to_piece(401)]}, open(sys.argv[3], 'w'))";
  const std::string command = "/usr/bin/python3 -c \"" + script + "\" " + grown + "/tokenizer.model '" + text + "' " +
                              dir.file("python.json");
  ASSERT_EQ(std::system(command.c_str()), 0);
  const nlohmann::json python = readJsonFile(dir.file("python.json"));
  EXPECT_EQ(python.at("size"), 402);
  EXPECT_EQ(python.at("ids").get<std::vector<TokenId>>(), ids);
  EXPECT_EQ(python.at("pieces"), (nlohmann::json{"Behemoth", "ZeRO3"}));
  expectGrownModel(base, grown, 400, 402);
}

TEST(VocabularyExtension, TheByteTokenizerAndABadVocabularyAreRefused) {
  const TempDir dir;
  try {
    extendTokenizer(hfReferenceDir("gpt2"), {"x"});
    ADD_FAILURE() << "extended a model with no tokenizer files";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("holds no tokenizer files"), std::string::npos) << error.what();
  }
  EXPECT_THROW(growHfVocabulary(hfReferenceDir("gpt2"), dir.file("small"), 256, 200, {}, false), std::invalid_argument);
  EXPECT_THROW(readTokenList(dir.file("missing.txt")), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
