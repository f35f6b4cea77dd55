// Byte-level BPE pieces by hand: the pre-tokenizers on cases worked out from the published
// expressions, the byte-level alphabet's definition, merges by rank, and special tokens as the
// configuration files beside the tokenizer name them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "backend/tokenizer/byte_level.h"
#include "backend/tokenizer/pretokenizer.h"
#include "backend/tokenizer/tokenizer.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

std::vector<std::string> pieces(const std::string& text, PretokenizerPattern pattern) {
  std::vector<std::string> out;
  pretokenize(text, pattern, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}

using Pieces = std::vector<std::string>;

TEST(TokenizerPretokenizer, Gpt2SplitsAsTheExpressionSays) {
  const auto gpt2 = PretokenizerPattern::kGpt2;
  EXPECT_EQ(pieces("Hello world's  end", gpt2), (Pieces{"Hello", " world", "'s", " ", " end"}));
  EXPECT_EQ(pieces("they'LL x'llama", gpt2), (Pieces{"they", "'", "LL", " x", "'ll", "ama"}));
  EXPECT_EQ(pieces("a1b 22 ?!x \n\ny", gpt2), (Pieces{"a", "1", "b", " 22", " ?!", "x", " \n", "\n", "y"}));
  EXPECT_EQ(pieces("tail  ", gpt2), (Pieces{"tail", "  "}));
  EXPECT_EQ(pieces("naïve 東京 ٣٤", gpt2), (Pieces{"naïve", " 東京", " ٣٤"}));
  EXPECT_EQ(pieces("x\u00a0y", gpt2), (Pieces{"x", "\u00a0", "y"}));  // no-break space is white space
}

TEST(TokenizerPretokenizer, Llama3SplitsAsTheExpressionSays) {
  const auto llama3 = PretokenizerPattern::kLlama3;
  EXPECT_EQ(pieces("Hello world's WE'RE", llama3), (Pieces{"Hello", " world", "'s", " WE", "'RE"}));
  EXPECT_EQ(pieces("1234567 x", llama3), (Pieces{"123", "456", "7", " x"}));
  EXPECT_EQ(pieces(".foo ?!\n\nbar", llama3), (Pieces{".foo", " ?!\n\n", "bar"}));
  EXPECT_EQ(pieces("a  \n  b", llama3), (Pieces{"a", "  \n", " ", " b"}));
  EXPECT_EQ(pieces("\tword", llama3), (Pieces{"\tword"}));
}

TEST(TokenizerPretokenizer, PiecesCoverAnyBytes) {
  const std::string bytes = std::string("ok \xff\xfe broken \xe6\x9d") + " end";
  for (const auto pattern : {PretokenizerPattern::kGpt2, PretokenizerPattern::kLlama3}) {
    std::string joined;
    for (const std::string& piece : pieces(bytes, pattern)) joined += piece;
    EXPECT_EQ(joined, bytes);
  }
}

TEST(TokenizerByteLevel, AlphabetIsGpt2s) {
  EXPECT_EQ(toByteLevel("A "), "A\u0120");  // space is the 33rd non-printable byte: U+0100 + 32
  EXPECT_EQ(toByteLevel("\n"), "\u010a");
  EXPECT_EQ(toByteLevel("\xad"), "\u0143");  // soft hyphen, the last one moved
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(fromByteLevel(toByteLevel(all)), all);
  EXPECT_FALSE(fromByteLevel("\u0200").has_value());
}

// A tiny GPT-2 style folder written by hand: bytes, then merges "h e", "he l", "l o".
void writeTinyPair(const TempDir& dir, const nlohmann::json& extra_vocab = nlohmann::json::object()) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[toByteLevel(std::string(1, static_cast<char>(b)))] = b;
  vocab["he"] = 256;
  vocab["hel"] = 257;
  vocab["lo"] = 258;
  vocab["\u0120he"] = 259;
  for (const auto& [token, id] : extra_vocab.items()) vocab[token] = id;
  writeFile(dir.file("vocab.json"), vocab.dump());
  writeFile(dir.file("merges.txt"), "#version: 0.2\nh e\nhe l\nl o\n\u0120 he\n");
}

TEST(TokenizerBpe, MergesApplyLowestRankFirst) {
  const TempDir dir;
  writeTinyPair(dir);
  const auto tokenizer = openTokenizer(dir.path());
  // "helo": h e -> he (rank 0), then he l -> hel (rank 1) before l o (rank 2) could apply.
  EXPECT_EQ(tokenizer->encode("helo"), (std::vector<TokenId>{257, 'o'}));
  EXPECT_EQ(tokenizer->encode("hello"), (std::vector<TokenId>{257, 258}));
  EXPECT_EQ(tokenizer->encode(" he"), (std::vector<TokenId>{259}));
  EXPECT_EQ(tokenizer->decode({257, 'l', 'o', 259}), "hello he");
  EXPECT_FALSE(tokenizer->special().bos.has_value());  // nothing names one and there is no <|endoftext|>
  EXPECT_EQ(tokenizer->files().size(), 2u);
}

TEST(TokenizerBpe, Gpt2EndOfTextIsBosAndEosWhenNothingElseIsNamed) {
  const TempDir dir;
  writeTinyPair(dir, {{"<|endoftext|>", 260}});
  const auto tokenizer = openTokenizer(dir.path());
  EXPECT_EQ(tokenizer->special().bos, 260);
  EXPECT_EQ(tokenizer->special().eos, 260);
  EXPECT_FALSE(tokenizer->special().unk.has_value());
  EXPECT_EQ(tokenizer->vocabSize(), 261);
  // A special token in the text is that token, not its characters.
  EXPECT_EQ(tokenizer->encode("he<|endoftext|>he"), (std::vector<TokenId>{256, 260, 256}));
}

TEST(TokenizerBpe, ConfigurationNamesSpecialTokens) {
  const TempDir dir;
  writeTinyPair(dir, {{"<s>", 260}, {"</s>", 261}, {"<pad>", 262}});
  writeFile(dir.file("tokenizer_config.json"),
            R"({"bos_token": {"content": "<s>", "special": true}, "eos_token": "</s>", "unk_token": null})");
  writeFile(dir.file("special_tokens_map.json"), R"({"eos_token": "<pad>", "pad_token": "<pad>"})");
  const auto tokenizer = openTokenizer(dir.path());
  EXPECT_EQ(tokenizer->special().bos, 260);
  EXPECT_EQ(tokenizer->special().eos, 261);  // tokenizer_config.json wins
  EXPECT_EQ(tokenizer->special().pad, 262);
  EXPECT_FALSE(tokenizer->special().unk.has_value());
  EXPECT_EQ(tokenizer->encode("<s>he</s>"), (std::vector<TokenId>{260, 256, 261}));
  EXPECT_EQ(tokenizer->files().size(), 4u);
}

TEST(TokenizerBpe, AddedTokensFromEveryFileAndPrefixSpace) {
  const TempDir dir;
  writeTinyPair(dir);
  nlohmann::json vocab = nlohmann::json::parse(readFile(dir.file("vocab.json")));
  std::vector<std::string> merges;
  std::istringstream lines(readFile(dir.file("merges.txt")));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#", 0) != 0) merges.push_back(line);
  }
  const nlohmann::json json = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}},
      {"added_tokens", {{{"id", 300}, {"content", "<|im_start|>"}, {"special", true}}}}};
  const TempDir json_dir;
  writeFile(json_dir.file("tokenizer.json"), json.dump());
  writeFile(json_dir.file("tokenizer_config.json"), R"({"added_tokens_decoder": {"301": {"content": "<|im_end|>"}}})");
  const auto tokenizer = openTokenizer(json_dir.path());
  EXPECT_EQ(tokenizer->vocabSize(), 302);
  // add_prefix_space: "he" is encoded as " he"; each stretch between added tokens gets its space.
  EXPECT_EQ(tokenizer->encode("he"), (std::vector<TokenId>{259}));
  EXPECT_EQ(tokenizer->encode("<|im_start|>he<|im_end|>"), (std::vector<TokenId>{300, 259, 301}));
  EXPECT_EQ(tokenizer->decode({300, 259, 301}), "<|im_start|> he<|im_end|>");

  writeFile(dir.file("added_tokens.json"), R"({"<|extra|>": 260})");
  EXPECT_EQ(openTokenizer(dir.path())->encode("he<|extra|>"), (std::vector<TokenId>{256, 260}));
  EXPECT_EQ(openTokenizer(dir.path())->files().size(), 3u);
}

TEST(TokenizerBpe, ContentKeyFollowsTheBytesNotThePath) {
  const TempDir a, b;
  writeTinyPair(a);
  writeTinyPair(b);
  EXPECT_EQ(openTokenizer(a.path())->contentKey(), openTokenizer(b.path())->contentKey());
  writeFile(b.file("merges.txt"), "#version: 0.2\nh e\nl o\nhe l\n\u0120 he\n");
  EXPECT_NE(openTokenizer(a.path())->contentKey(), openTokenizer(b.path())->contentKey());
  EXPECT_EQ(openTokenizer(b.path())->encode("helo"), (std::vector<TokenId>{256, 258}));  // l o now ranks first
}

TEST(TokenizerByte, IsTheDefault) {
  const auto tokenizer = openTokenizer("byte");
  EXPECT_EQ(tokenizer->kind(), "byte");
  EXPECT_EQ(tokenizer->vocabSize(), 256);
  EXPECT_EQ(tokenizer->encode("A\xff"), (std::vector<TokenId>{65, 255}));
  EXPECT_EQ(tokenizer->decode({104, 105}), "hi");
  EXPECT_TRUE(tokenizer->files().empty());
}

}  // namespace
}  // namespace behemoth
