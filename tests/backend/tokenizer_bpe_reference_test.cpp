// Byte-level BPE against an independent implementation: tests/backend/reference/tokenizer_reference.py
// (stdlib only: Python's re with classes from unicodedata, GPT-2's encoder.py merge loop) trains a
// small BPE on the start of the builtin corpus, writes it as vocab.json + merges.txt and as a
// tokenizer.json (GPT-2's, merges spelled "a b"; or LLaMA-3's, merges spelled ["a", "b"]), and encodes the whole corpus
// (plus a non-ASCII sample); the engine, reading the files the script wrote, gives the same ids and decodes them back
// to the exact text.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/backend/tokenizer_test_support.h"

namespace behemoth {
namespace {

// Runs the script for one tokenizer.json form; returns its output folder.
std::string referenceBpe(const TempDir& dir, const std::string& form) {
  writeFile(dir.file("text"), tokenizerTestText());
  const std::string command =
      "/usr/bin/python3 " + sourceDir() + "/tests/backend/reference/tokenizer_reference.py bpe " + dir.file("text") +
      " " + dir.file("bpe") + " --train-bytes 300000 --merges 1000 --form " + form + " > " + dir.file("log") + " 2>&1";
  if (std::system(command.c_str()) != 0)
    ADD_FAILURE() << "tokenizer_reference.py failed: " << readFile(dir.file("log"));
  return dir.file("bpe");
}

void expectSameIdsAndRoundTrip(const std::string& spec, const std::vector<TokenId>& reference) {
  SCOPED_TRACE(spec);
  const auto tokenizer = openTokenizer(spec);
  EXPECT_EQ(tokenizer->kind(), "bpe");
  EXPECT_EQ(tokenizer->vocabSize(), 256 + 1000 + 1);
  const std::vector<TokenId> ids = tokenizer->encode(tokenizerTestText());
  EXPECT_TRUE(ids == reference) << firstDifference(ids, reference);
  EXPECT_TRUE(tokenizer->decode(ids) == tokenizerTestText()) << "decoding does not give back the text";
  EXPECT_LT(ids.size(), tokenizerTestText().size() / 2) << "the merges hardly apply";
}

TEST(TokenizerBpeReference, Gpt2VocabMergesAndTokenizerJsonMatchPythonOnWholeBuiltinCorpus) {
  const TempDir dir;
  const std::string out = referenceBpe(dir, "gpt2");
  const std::vector<TokenId> reference = readIds(out + "/gpt2.ids");
  ASSERT_FALSE(reference.empty());
  expectSameIdsAndRoundTrip(out + "/pair", reference);
  expectSameIdsAndRoundTrip(out + "/gpt2", reference);
  expectSameIdsAndRoundTrip(out + "/gpt2/tokenizer.json", reference);
  // Both forms name the same files' meaning differently: their keys differ, each is stable.
  EXPECT_EQ(openTokenizer(out + "/pair")->contentKey(), openTokenizer(out + "/pair")->contentKey());
  EXPECT_NE(openTokenizer(out + "/pair")->contentKey(), openTokenizer(out + "/gpt2")->contentKey());
}

TEST(TokenizerBpeReference, Llama3TokenizerJsonMatchesPythonOnWholeBuiltinCorpus) {
  const TempDir dir;
  const std::string out = referenceBpe(dir, "llama3");
  const std::vector<TokenId> reference = readIds(out + "/llama3.ids");
  ASSERT_FALSE(reference.empty());
  expectSameIdsAndRoundTrip(out + "/llama3", reference);
}

}  // namespace
}  // namespace behemoth
