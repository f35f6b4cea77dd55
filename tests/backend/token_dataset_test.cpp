// Tokenized datasets: the token cache (written once, reused, rebuilt when the corpus, the tokenizer
// or the file changes), its id width, batches drawn from tokens, JSONL corpora, the vocabulary
// check before launch, and the data.tokenizer key.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>

#include "backend/data/batch_sampler.h"
#include "backend/data/corpus.h"
#include "backend/data/corpus_checks.h"
#include "backend/data/counter_rng.h"
#include "backend/data/token_cache.h"
#include "backend/data/training_tokens.h"
#include "backend/project/project.h"
#include "tests/backend/project_test_support.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

// A tokenizer whose ids are a known function of each byte (byte * scale mod vocab), counting the
// encode calls so a test sees whether a corpus was tokenized again.
class CountingTokenizer final : public Tokenizer {
 public:
  CountingTokenizer(std::int64_t vocab, std::int64_t scale, std::optional<TokenId> eos, std::string key = "v1")
      : vocab_(vocab), scale_(scale), eos_(eos), key_(std::move(key)) {}
  std::string kind() const override { return "counting"; }
  std::int64_t vocabSize() const override { return vocab_; }
  std::vector<TokenId> encode(std::string_view text) const override {
    ++encodes;
    std::vector<TokenId> ids;
    for (const char c : text) ids.push_back(idOf(c));
    return ids;
  }
  std::string decode(const std::vector<TokenId>&) const override { return {}; }
  SpecialTokens special() const override {
    SpecialTokens tokens;
    tokens.eos = eos_;
    return tokens;
  }
  std::string contentKey() const override { return "counting " + std::to_string(vocab_) + " " + std::to_string(scale_) + " " + key_; }
  std::vector<fs::path> files() const override { return {}; }

  TokenId idOf(char c) const { return static_cast<TokenId>((static_cast<unsigned char>(c) * scale_) % vocab_); }
  mutable std::atomic<int> encodes{0};

 private:
  std::int64_t vocab_;
  std::int64_t scale_;
  std::optional<TokenId> eos_;
  std::string key_;
};

Corpus corpusOf(std::vector<std::string> documents) {
  Corpus corpus;
  corpus.source = "test";
  for (const auto& text : documents) {
    corpus.documentStarts.push_back(corpus.size());
    corpus.bytes += text;
  }
  corpus.fileCount = static_cast<std::int64_t>(documents.size());
  return corpus;
}

std::vector<std::int64_t> allIds(const TokenArray& ids) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(ids.size()));
  ids.copy(0, ids.size(), out.data());
  return out;
}

struct FileStamp {
  ino_t inode = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp& other) const { return inode == other.inode && mtime_ns == other.mtime_ns; }
};

FileStamp stampOf(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return {info.st_ino, std::int64_t{info.st_mtim.tv_sec} * 1000000000 + info.st_mtim.tv_nsec};
}

TEST(TokenCache, DocumentsAreEncodedAndSeparatedByEndOfText) {
  const CountingTokenizer tokenizer(1000, 3, /*eos=*/999);
  const std::vector<TokenId> ids = tokenizeCorpus(corpusOf({"ab", "", "c"}), tokenizer);
  // The empty document adds nothing, not even an end-of-text id.
  const std::vector<TokenId> expected{'a' * 3, 'b' * 3, 999, 'c' * 3, 999};
  EXPECT_EQ(ids, expected);
  const CountingTokenizer without_eos(1000, 3, std::nullopt);
  EXPECT_EQ(tokenizeCorpus(corpusOf({"ab", "c"}), without_eos), (std::vector<TokenId>{'a' * 3, 'b' * 3, 'c' * 3}));
}

TEST(TokenCache, LongDocumentsAreEncodedInPiecesThatEndAtLineBreaks) {
  // 2.5 MiB of 64-byte lines: three pieces of at most 1 MiB, each ending after a line break.
  std::string line(63, 'x');
  line += '\n';
  std::string text;
  while (text.size() < (std::size_t{5} << 19)) text += line;
  const CountingTokenizer tokenizer(256, 1, std::nullopt);
  std::vector<std::int64_t> progress;
  const std::vector<TokenId> ids = tokenizeCorpus(corpusOf({text}), tokenizer, [&](std::int64_t done) { progress.push_back(done); });
  EXPECT_EQ(tokenizer.encodes.load(), 3);
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress[0], std::int64_t{1} << 20);  // 1 MiB is a whole number of lines
  EXPECT_EQ(progress.back(), static_cast<std::int64_t>(text.size()));
  ASSERT_EQ(ids.size(), text.size());
  for (std::size_t k = 0; k < text.size(); ++k) ASSERT_EQ(ids[k], static_cast<unsigned char>(text[k]));
}

TEST(TokenCache, WrittenOnceThenReusedWithoutTokenizing) {
  const ScratchDir dir;
  const Corpus corpus = corpusOf({"hello world\n", "second document\n"});
  const CountingTokenizer tokenizer(500, 2, 499);
  const TokenCache first = openTokenCache(corpus, tokenizer, dir.path() / "cache", false);
  EXPECT_TRUE(first.built);
  EXPECT_EQ(tokenizer.encodes.load(), 2);
  EXPECT_EQ(first.path.parent_path(), dir.path() / "cache");
  EXPECT_EQ(first.path.filename().string(), tokenCacheKey(corpus, tokenizer) + ".tokens");
  const FileStamp stamp = stampOf(first.path);

  const TokenCache second = openTokenCache(corpus, tokenizer, dir.path() / "cache", false);
  EXPECT_FALSE(second.built);
  EXPECT_TRUE(second.rebuilt_because.empty());
  EXPECT_EQ(tokenizer.encodes.load(), 2);  // not tokenized again
  EXPECT_TRUE(stampOf(second.path) == stamp);  // nor written again
  EXPECT_EQ(allIds(*second.tokens), allIds(*first.tokens));
  std::vector<std::int64_t> expected;
  for (const auto& document : {std::string("hello world\n"), std::string("second document\n")}) {
    for (const char c : document) expected.push_back(tokenizer.idOf(c));
    expected.push_back(499);
  }
  EXPECT_EQ(allIds(*second.tokens), expected);
  // Nothing but the cache in the folder: no temporary left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path() / "cache"), fs::directory_iterator()), 1);
}

TEST(TokenCache, AChangedCorpusOrTokenizerTokenizesAgain) {
  const ScratchDir dir;
  const CountingTokenizer tokenizer(500, 2, 499);
  const TokenCache base = openTokenCache(corpusOf({"abc", "def"}), tokenizer, dir.path(), false);
  // One byte changed; the same bytes cut into other documents; another tokenizer content key.
  const TokenCache edited = openTokenCache(corpusOf({"abc", "deg"}), tokenizer, dir.path(), false);
  const TokenCache regrouped = openTokenCache(corpusOf({"abcd", "ef"}), tokenizer, dir.path(), false);
  const CountingTokenizer retrained(500, 2, 499, "v2");
  const TokenCache other_tokenizer = openTokenCache(corpusOf({"abc", "def"}), retrained, dir.path(), false);
  for (const TokenCache* cache : {&edited, &regrouped, &other_tokenizer}) {
    EXPECT_TRUE(cache->built);
    EXPECT_NE(cache->path, base.path);
  }
  EXPECT_EQ(retrained.encodes.load(), 2);
  EXPECT_FALSE(openTokenCache(corpusOf({"abc", "def"}), tokenizer, dir.path(), false).built);
}

TEST(TokenCache, ADamagedCacheIsDetectedAndWrittenAgain) {
  const ScratchDir dir;
  const Corpus corpus = corpusOf({std::string(1000, 'q') + "tail"});
  const CountingTokenizer tokenizer(300, 1, 299);
  const TokenCache good = openTokenCache(corpus, tokenizer, dir.path(), false);
  const std::vector<std::int64_t> ids = allIds(*good.tokens);
  const auto damage = [&](std::int64_t offset, char value) {
    std::fstream file(good.path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(offset);
    file.put(value);
  };
  damage(64 + 10, 'Z');  // an id's byte
  const TokenCache flipped = openTokenCache(corpus, tokenizer, dir.path(), false);
  EXPECT_TRUE(flipped.built);
  EXPECT_EQ(flipped.rebuilt_because, "its ids do not match their checksum");
  EXPECT_EQ(allIds(*flipped.tokens), ids);

  fs::resize_file(good.path, fs::file_size(good.path) - 2);  // a torn tail
  const TokenCache torn = openTokenCache(corpus, tokenizer, dir.path(), false);
  EXPECT_TRUE(torn.built);
  EXPECT_NE(torn.rebuilt_because.find("does not match its"), std::string::npos) << torn.rebuilt_because;
  EXPECT_EQ(allIds(*torn.tokens), ids);

  damage(0, 'X');  // not a cache at all
  EXPECT_EQ(openTokenCache(corpus, tokenizer, dir.path(), false).rebuilt_because, "it is not a token cache (wrong magic)");
  fs::resize_file(good.path, 10);
  EXPECT_EQ(openTokenCache(corpus, tokenizer, dir.path(), false).rebuilt_because, "it is shorter than its header");
  EXPECT_FALSE(openTokenCache(corpus, tokenizer, dir.path(), false).built);
}

TEST(TokenCache, IdsAreUint16WhenTheVocabularyFitsElseUint32) {
  EXPECT_EQ(tokenIdBytes(256), 2);
  EXPECT_EQ(tokenIdBytes(65536), 2);
  EXPECT_EQ(tokenIdBytes(65537), 4);
  const ScratchDir dir;
  const Corpus corpus = corpusOf({"the quick brown fox"});
  const std::int64_t n = corpus.size();
  const CountingTokenizer small(65536, 257, std::nullopt);  // ids up to 255 * 257 = 65535
  const TokenCache narrow = openTokenCache(corpus, small, dir.path(), false);
  EXPECT_EQ(fs::file_size(narrow.path), static_cast<std::uintmax_t>(64 + 2 * n));
  const CountingTokenizer large(100000, 700, std::nullopt);  // ids up to 121 * 700 = 84700
  const TokenCache wide = openTokenCache(corpus, large, dir.path(), false);
  EXPECT_EQ(fs::file_size(wide.path), static_cast<std::uintmax_t>(64 + 4 * n));
  for (const auto& [cache, tokenizer] : {std::pair{&narrow, &small}, std::pair{&wide, &large}}) {
    const auto ids = allIds(*cache->tokens);
    for (std::int64_t k = 0; k < n; ++k) ASSERT_EQ(ids[k], tokenizer->idOf(corpus.bytes[k]));
  }
  EXPECT_EQ(allIds(*wide.tokens)[0], 116 * 700);  // 't': beyond what 16 bits hold
}

TEST(TokenCache, AnIndependentReaderFindsTheDocumentedFormat) {
  const ScratchDir dir;
  const Corpus corpus = corpusOf({"hello\n", "world"});
  for (const std::int64_t vocab : {std::int64_t{1000}, std::int64_t{100000}}) {
    const CountingTokenizer tokenizer(vocab, 700, static_cast<TokenId>(vocab - 1));
    const TokenCache cache = openTokenCache(corpus, tokenizer, dir.path(), false);
    const std::string out = dir.file("read.json");
    const std::string command = "/usr/bin/python3 " + sourceDir() + "/tests/backend/reference/read_token_cache.py " +
                                cache.path.string() + " > " + out + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << readFile(out);
    const nlohmann::json read = nlohmann::json::parse(readFile(out));
    EXPECT_EQ(read.at("id_bytes").get<int>(), vocab <= 65536 ? 2 : 4);
    EXPECT_EQ(read.at("vocab").get<std::int64_t>(), vocab);
    EXPECT_EQ(read.at("key").get<std::string>(), tokenCacheKey(corpus, tokenizer));
    // The ids computed here from the tokenizer's rule, documents closed by end-of-text.
    std::vector<std::int64_t> expected;
    for (const char c : std::string("hello\n")) expected.push_back(static_cast<unsigned char>(c) * 700 % vocab);
    expected.push_back(vocab - 1);
    for (const char c : std::string("world")) expected.push_back(static_cast<unsigned char>(c) * 700 % vocab);
    expected.push_back(vocab - 1);
    EXPECT_EQ(read.at("ids").get<std::vector<std::int64_t>>(), expected);
  }
}

SamplerOptions samplerOptions(int seq_len, int batch, std::uint64_t seed, double eval_fraction) {
  SamplerOptions options;
  options.seq_len = seq_len;
  options.global_batch_size = batch;
  options.seed = seed;
  options.eval_fraction = eval_fraction;
  return options;
}

TEST(TokenBatches, WindowsOfTokensAtTheCounterRngsStarts) {
  const ScratchDir dir;
  std::string text;
  for (int k = 0; k < 200; ++k) text += static_cast<char>('a' + (k * 7) % 26);
  const CountingTokenizer tokenizer(5000, 37, 4999);
  const TokenCache cache = openTokenCache(corpusOf({text.substr(0, 120), text.substr(120)}), tokenizer, dir.path(), false);
  const std::vector<std::int64_t> ids = allIds(*cache.tokens);
  ASSERT_EQ(ids.size(), 202u);  // 200 characters and two end-of-text ids
  // No held-out split: one block of 202 ids, 202 - 6 window starts; sequence i of step s starts at
  // counterHash(seed, s, i) mod 196 and covers 7 ids.
  const BatchSampler sampler(cache.tokens, samplerOptions(6, 3, 11, 0.0));
  ASSERT_EQ(sampler.trainWindowCount(), 196);
  for (const std::int64_t step : {0, 1, 9}) {
    const Batch batch = sampler.globalBatchSlice(step, 0, 3);
    for (int sequence = 0; sequence < 3; ++sequence) {
      const auto start = static_cast<std::int64_t>(counterHash(11, static_cast<std::uint64_t>(step), static_cast<std::uint64_t>(sequence)) % 196);
      for (int t = 0; t < 6; ++t) {
        ASSERT_EQ(batch.inputs[sequence][t].item<std::int64_t>(), ids[static_cast<std::size_t>(start + t)]);
        ASSERT_EQ(batch.targets[sequence][t].item<std::int64_t>(), ids[static_cast<std::size_t>(start + t + 1)]);
      }
    }
  }
  const BatchSampler again(cache.tokens, samplerOptions(6, 3, 11, 0.0));
  EXPECT_TRUE(at::equal(again.globalBatchSlice(4, 0, 3).inputs, sampler.globalBatchSlice(4, 0, 3).inputs));
}

TEST(TokenBatches, TokensOfTheIdentityTokenizerGiveTheByteSamplersBatches) {
  // Splits, training windows and evaluation windows are the byte sampler's, bit for bit.
  const ScratchDir dir;
  auto corpus = std::make_shared<Corpus>();
  corpus->documentStarts = {0};
  for (int k = 0; k < 3000; ++k) corpus->bytes.push_back(static_cast<char>((k * 7 + k / 251) % 256));
  const CountingTokenizer identity(256, 1, std::nullopt);
  const TokenCache cache = openTokenCache(*corpus, identity, dir.path(), false);
  const BatchSampler bytes(std::shared_ptr<const Corpus>(corpus), samplerOptions(50, 8, 9, 0.2));
  const BatchSampler tokens(cache.tokens, samplerOptions(50, 8, 9, 0.2));
  ASSERT_EQ(tokens.evalWindowCount(), bytes.evalWindowCount());
  for (const std::int64_t step : {0, 3, 77}) {
    EXPECT_TRUE(at::equal(tokens.globalBatchSlice(step, 0, 8).inputs, bytes.globalBatchSlice(step, 0, 8).inputs));
    EXPECT_TRUE(at::equal(tokens.globalBatchSlice(step, 2, 3).targets, bytes.globalBatchSlice(step, 2, 3).targets));
  }
  EXPECT_TRUE(at::equal(tokens.evalBatch(1, 0, 8).inputs, bytes.evalBatch(1, 0, 8).inputs));
}

TEST(JsonlCorpus, EachLinesTextIsADocument) {
  const ScratchDir dir;
  dir.write("data/a.jsonl", "{\"text\": \"first doc\", \"id\": 1}\n\n{\"text\": \"second\\nline\"}\n");
  dir.write("data/b.txt", "plain");
  const Corpus corpus = loadCorpus(dir.file("data"));
  EXPECT_EQ(corpus.bytes, "first doc\nsecond\nline\nplain");
  EXPECT_EQ(corpus.documentStarts, (std::vector<std::int64_t>{0, 10, 22}));
  EXPECT_EQ(corpus.fileCount, 2);
  const CountingTokenizer tokenizer(300, 1, 299);
  const std::vector<TokenId> ids = tokenizeCorpus(corpus, tokenizer);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 299), 3);
}

TEST(JsonlCorpus, MalformedLinesAreRefusedNamingFileAndLine) {
  const ScratchDir dir;
  const auto refusal = [&](const std::string& content) {
    const std::string path = dir.write("bad.jsonl", content);
    return testing::invalidArgumentMessage([&] { loadCorpus(path); });
  };
  const std::string path = dir.file("bad.jsonl");
  EXPECT_EQ(refusal("{\"text\": \"ok\"}\n{\"text\": \"cut"),
            "data.corpus: " + path + ":2: not valid JSON (each line must be one object with a \"text\" field)");
  EXPECT_EQ(refusal("{\"text\": \"ok\"}\n\n{\"body\": \"x\"}\n"), "data.corpus: " + path + ":3: the object has no \"text\" field");
  EXPECT_EQ(refusal("{\"text\": 5}\n"), "data.corpus: " + path + ":1: \"text\" must be a string, got number");
  EXPECT_EQ(refusal("[1, 2]\n"), "data.corpus: " + path + ":1: expected a JSON object with a \"text\" field, got array");
  EXPECT_EQ(refusal("\n \n"), "data.corpus: " + path + " holds no bytes");
}

TEST(TokenizerChecks, AVocabularyBeyondTheModelsIsRefusedBeforeLaunch) {
  Project project;
  project.model.vocab_size = 256;
  project.data.tokenizer = "/data/tok/tokenizer.model";
  const CountingTokenizer big(32000, 1, std::nullopt);
  EXPECT_EQ(testing::invalidArgumentMessage([&] { checkTokenizerForProject(big, project); }),
            "data.tokenizer: /data/tok/tokenizer.model has 32000 tokens (counting), more than model.vocab_size 256; "
            "set model.vocab_size >= 32000 or use another tokenizer");
  project.model.vocab_size = 32000;
  EXPECT_NO_THROW(checkTokenizerForProject(big, project));
  // The byte tokenizer answers to the corpus's alphabet instead: an ASCII corpus fits 128.
  project.data.tokenizer = "byte";
  project.model.vocab_size = 128;
  EXPECT_NO_THROW(checkTokenizerForProject(*openTokenizer("byte"), project));
}

TEST(TokenizerChecks, WindowChecksCountTokens) {
  const ScratchDir dir;
  Project project;
  project.model.seq_len = 64;
  project.data.tokenizer = "/t";
  const CountingTokenizer tokenizer(300, 1, 299);
  const TokenCache cache = openTokenCache(corpusOf({std::string(40, 'a')}), tokenizer, dir.path(), false);
  EXPECT_EQ(testing::invalidArgumentMessage([&] { checkTokensForProject(*cache.tokens, "c.txt", project); }),
            "model.seq_len: 64 needs windows of 65 tokens, but data.corpus (c.txt) holds 41 tokens; lower model.seq_len "
            "or give a larger corpus");
}

TEST(TrainingTokensTest, TheByteTokenizerKeepsTheBytesAndWritesNoCache) {
  const ScratchDir dir;
  Project project;
  project.train.out_dir = dir.file("runs/a");
  auto corpus = std::make_shared<const Corpus>(corpusOf({"some bytes"}));
  const TrainingTokens tokens = trainingTokens(project, corpus, *openTokenizer("byte"), false);
  EXPECT_EQ(std::string(tokens.ids->unit()), "bytes");
  EXPECT_EQ(tokens.ids->size(), 10);
  EXPECT_EQ(tokens.tokenizer, "byte");
  EXPECT_FALSE(fs::exists(dir.path() / "runs" / "token-cache"));

  project.data.tokenizer = "/t";
  const CountingTokenizer tokenizer(300, 1, 299);
  const TrainingTokens counted = trainingTokens(project, corpus, tokenizer, false);
  EXPECT_EQ(counted.ids->size(), 11);
  EXPECT_EQ(counted.tokenizer, "counting");
  EXPECT_TRUE(fs::exists(dir.path() / "runs" / "token-cache"));
  EXPECT_NE(counted.summary.find("11 tokens from 10 bytes"), std::string::npos) << counted.summary;
  EXPECT_NE(counted.summary.find("(written)"), std::string::npos) << counted.summary;
  EXPECT_NE(trainingTokens(project, corpus, tokenizer, false).summary.find("(reused)"), std::string::npos);
  EXPECT_EQ(tokenCacheFolder(dir.file("runs/a/")), dir.path() / "runs" / "token-cache");
}

TEST(TokenizerKey, DefaultsToByteResolvesPathsAndRoundTrips) {
  const ScratchDir dir;
  nlohmann::json document = testing::minimalProject();
  EXPECT_EQ(projectFromJson(document, dir.path().string()).data.tokenizer, "byte");
  dir.write("tok/tokenizer.model", "x");
  document["data"] = {{"tokenizer", "tok/tokenizer.model"}};
  const Project project = projectFromJson(document, dir.path().string());
  EXPECT_EQ(project.data.tokenizer, dir.file("tok/tokenizer.model"));
  EXPECT_EQ(projectFromJson(projectToJson(project), "/elsewhere").data.tokenizer, project.data.tokenizer);
  EXPECT_EQ(projectToJson(project)["data"]["tokenizer"], dir.file("tok/tokenizer.model"));
  document["data"] = {{"tokenizer", "missing"}};
  EXPECT_EQ(testing::invalidArgumentMessage([&] { projectFromJson(document, dir.path().string()); }),
            "data.tokenizer: no such file or folder: " + dir.file("missing"));
  document["data"] = {{"tokenizer", ""}};
  EXPECT_NE(testing::invalidArgumentMessage([&] { projectFromJson(document, dir.path().string()); }).find("data.tokenizer: must not be empty"),
            std::string::npos);
}

}  // namespace
}  // namespace behemoth
