// Corpus loading and deterministic batch sampling.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>

#include "backend/data/batch_sampler.h"
#include "backend/data/corpus.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

// A corpus of known bytes: byte i is (i * 7 + i / 251) % 256, so windows at different offsets differ.
std::shared_ptr<const Corpus> syntheticCorpus(std::int64_t size) {
  auto corpus = std::make_shared<Corpus>();
  for (std::int64_t i = 0; i < size; ++i) corpus->bytes.push_back(static_cast<char>((i * 7 + i / 251) % 256));
  return corpus;
}

SamplerOptions options(int seq_len, int batch, std::uint64_t seed, double eval_fraction = 0.1) {
  SamplerOptions result;
  result.seq_len = seq_len;
  result.global_batch_size = batch;
  result.seed = seed;
  result.eval_fraction = eval_fraction;
  return result;
}

class TempFolder {
 public:
  TempFolder() : path_(fs::temp_directory_path() / ("behemoth-data-test-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_ / "sub");
  }
  ~TempFolder() { fs::remove_all(path_); }
  void write(const std::string& relative, const std::string& text) const {
    std::ofstream(path_ / relative, std::ios::binary) << text;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(DataPipeline, DataParallelSlicesReassembleTheGlobalBatch) {
  const BatchSampler sampler(syntheticCorpus(10000), options(16, 8, 42));
  for (const std::int64_t step : {0, 1, 17}) {
    const Batch global = sampler.globalBatchSlice(step, 0, 8);
    ASSERT_EQ(global.inputs.sizes(), (at::IntArrayRef{8, 16}));
    for (const int dp : {1, 2, 4}) {
      std::vector<at::Tensor> inputs, targets;
      for (int rank = 0; rank < dp; ++rank) {
        const int local = 8 / dp;
        // Two micro-batches per rank where they fit, to cover sub-slices as well.
        const int micro = local >= 2 ? local / 2 : local;
        for (int first = rank * local; first < (rank + 1) * local; first += micro) {
          const Batch part = sampler.globalBatchSlice(step, first, micro);
          inputs.push_back(part.inputs);
          targets.push_back(part.targets);
        }
      }
      EXPECT_TRUE(at::equal(at::cat(inputs), global.inputs)) << "dp " << dp << " step " << step;
      EXPECT_TRUE(at::equal(at::cat(targets), global.targets)) << "dp " << dp << " step " << step;
    }
  }
}

TEST(DataPipeline, BatchesAreWindowsOfTheCorpusShiftedByOne) {
  const auto corpus = syntheticCorpus(5000);
  const BatchSampler sampler(corpus, options(12, 4, 3));
  const Batch batch = sampler.globalBatchSlice(5, 0, 4);
  EXPECT_EQ(batch.inputs.scalar_type(), at::kLong);
  for (int sequence = 0; sequence < 4; ++sequence) {
    const std::int64_t offset = sampler.trainWindowOffset(5, sequence);
    for (int t = 0; t < 12; ++t) {
      const auto expected_input = static_cast<unsigned char>(corpus->bytes[offset + t]);
      const auto expected_target = static_cast<unsigned char>(corpus->bytes[offset + t + 1]);
      EXPECT_EQ(batch.inputs[sequence][t].item<std::int64_t>(), expected_input);
      EXPECT_EQ(batch.targets[sequence][t].item<std::int64_t>(), expected_target);
    }
  }
}

TEST(DataPipeline, SameSeedSameBatchesOtherwiseDifferent) {
  const auto corpus = syntheticCorpus(20000);
  const BatchSampler first(corpus, options(32, 8, 1));
  const BatchSampler again(corpus, options(32, 8, 1));
  const BatchSampler other_seed(corpus, options(32, 8, 2));
  EXPECT_TRUE(at::equal(first.globalBatchSlice(3, 0, 8).inputs, again.globalBatchSlice(3, 0, 8).inputs));
  EXPECT_FALSE(at::equal(first.globalBatchSlice(3, 0, 8).inputs, first.globalBatchSlice(4, 0, 8).inputs));
  EXPECT_FALSE(at::equal(first.globalBatchSlice(3, 0, 8).inputs, other_seed.globalBatchSlice(3, 0, 8).inputs));
  // The counter-based offsets are fixed forever: a changed generator would silently change every run.
  EXPECT_EQ(first.trainWindowOffset(0, 0), first.trainWindowOffset(0, 0));
  std::set<std::int64_t> offsets;
  for (int step = 0; step < 50; ++step) offsets.insert(first.trainWindowOffset(step, 0));
  EXPECT_GT(offsets.size(), 45u);
}

// True when [offset, offset + width) lies inside one of the blocks.
bool insideOneBlock(const std::vector<BatchSampler::Block>& blocks, std::int64_t offset, std::int64_t width) {
  for (const auto& block : blocks) {
    if (offset >= block.begin && offset + width <= block.end) return true;
  }
  return false;
}

TEST(DataPipeline, WindowsStayInsideTheirSplit) {
  const auto corpus = syntheticCorpus(3000);
  const BatchSampler sampler(corpus, options(50, 8, 9, 0.2));
  // 3000 bytes in blocks of 102 (two windows of 51): 30 blocks, of which 4, 9, 14, 19, 24 and the
  // 42-byte tail 29 are held out (floor((i + 1) / 5) > floor(i / 5)).
  ASSERT_EQ(BatchSampler::blockBytes(3000, 50, 0.2), 102);
  ASSERT_EQ(sampler.evalBlocks().size(), 6u);
  EXPECT_EQ(sampler.evalBlocks()[0].begin, 4 * 102);
  EXPECT_EQ(sampler.evalBlocks()[5].begin, 29 * 102);
  EXPECT_EQ(sampler.evalBytes(), 5 * 102 + 42);
  EXPECT_EQ(sampler.trainBytes(), 3000 - sampler.evalBytes());
  for (int step = 0; step < 500; ++step) {
    for (int sequence = 0; sequence < 8; ++sequence) {
      // Every input and target byte is training data, from one block.
      ASSERT_TRUE(insideOneBlock(sampler.trainBlocks(), sampler.trainWindowOffset(step, sequence), 51));
    }
  }
  ASSERT_EQ(sampler.evalWindowCount(), 10);  // two windows in each full held-out block, none in the tail
  std::set<std::int64_t> eval_offsets;
  for (int index = 0; index < 3; ++index) {
    for (int sequence = 0; sequence < 8; ++sequence) {
      const std::int64_t offset = sampler.evalWindowOffset(index, sequence);
      ASSERT_TRUE(insideOneBlock(sampler.evalBlocks(), offset, 51));  // never touches training bytes
      eval_offsets.insert(offset);
    }
  }
  EXPECT_EQ(eval_offsets.size(), 10u);  // 24 windows wrap over all 10
  const Batch eval = sampler.evalBatch(0, 2, 3);
  EXPECT_EQ(eval.inputs[0][0].item<std::int64_t>(),
            static_cast<unsigned char>(corpus->bytes[sampler.evalWindowOffset(0, 2)]));
}

TEST(DataPipeline, TheHeldOutSplitIsSpreadOverTheWholeCorpus) {
  // The builtin corpus's size and the default eval_fraction: held-out blocks in every tenth of the
  // corpus (not its tail), their share equal to eval_fraction within one block.
  const std::int64_t size = std::int64_t{8} << 20;
  const BatchSampler sampler(syntheticCorpus(size), options(64, 16, 0, 0.05));
  std::set<std::int64_t> tenths;
  for (const auto& block : sampler.evalBlocks()) tenths.insert(block.begin * 10 / size);
  EXPECT_EQ(tenths.size(), 10u);
  EXPECT_GE(sampler.evalBlocks().size(), 20u);
  EXPECT_NEAR(double(sampler.evalBytes()) / double(size), 0.05, double(BatchSampler::blockBytes(size, 64, 0.05)) / double(size));
}

TEST(DataPipeline, WithoutAHeldOutShareTheCorpusIsOneTrainingBlock) {
  const BatchSampler sampler(syntheticCorpus(5000), options(16, 4, 0, 0.0));
  ASSERT_EQ(sampler.trainBlocks().size(), 1u);
  EXPECT_EQ(sampler.trainWindowCount(), 5000 - 16);
  EXPECT_EQ(sampler.evalWindowCount(), 0);
}

TEST(DataPipeline, PositionRestoresTheStepCounter) {
  BatchSampler sampler(syntheticCorpus(4000), options(8, 2, 0));
  EXPECT_EQ(sampler.position(), 0);
  sampler.advance();
  sampler.advance();
  EXPECT_EQ(sampler.position(), 2);
  BatchSampler resumed(syntheticCorpus(4000), options(8, 2, 0));
  resumed.restore(sampler.position());
  EXPECT_EQ(resumed.position(), 2);
  EXPECT_TRUE(at::equal(resumed.globalBatchSlice(resumed.position(), 0, 2).inputs,
                        sampler.globalBatchSlice(sampler.position(), 0, 2).inputs));
  EXPECT_THROW(resumed.restore(-1), std::invalid_argument);
}

TEST(DataPipeline, RejectsImpossibleRequests) {
  const BatchSampler sampler(syntheticCorpus(1000), options(8, 4, 0, 0.0));
  EXPECT_THROW(sampler.globalBatchSlice(0, 3, 2), std::invalid_argument);
  EXPECT_THROW(sampler.globalBatchSlice(0, -1, 1), std::invalid_argument);
  EXPECT_THROW(sampler.evalBatch(0, 0, 4), std::invalid_argument);  // no held-out split
  EXPECT_THROW(BatchSampler(syntheticCorpus(8), options(8, 4, 0, 0.0)), std::invalid_argument);
  EXPECT_THROW(BatchSampler(syntheticCorpus(100), options(8, 4, 0, 1.0)), std::invalid_argument);
}

TEST(DataPipeline, LoadsFilesAndFoldersInPathOrder) {
  const TempFolder folder;
  folder.write("b.txt", "second");
  folder.write("a.txt", "first-");
  folder.write("sub/c.txt", "-third");
  const Corpus all = loadCorpus(folder.path());
  EXPECT_EQ(all.bytes, "first-second-third");
  EXPECT_EQ(all.fileCount, 3);
  const Corpus one = loadCorpus(folder.path() + "/b.txt");
  EXPECT_EQ(one.bytes, "second");
  try {
    loadCorpus(folder.path() + "/missing");
    ADD_FAILURE() << "missing path accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), "data.corpus: no such file or folder: " + folder.path() + "/missing");
  }
}

TEST(DataPipeline, BuiltinCorpusIsRealTextAndDeterministic) {
  const Corpus first = loadCorpus("builtin", 1 << 20);
  const Corpus second = loadCorpus("builtin", 1 << 20);
  ASSERT_GT(first.size(), 100000);
  EXPECT_LE(first.size(), 1 << 20);
  EXPECT_EQ(first.bytes, second.bytes);
  const auto files = builtinCorpusFiles();
  ASSERT_FALSE(files.empty());
  // Mostly printable ASCII text.
  std::int64_t printable = 0;
  for (const char c : first.bytes) printable += (c == '\n' || c == '\t' || (c >= 32 && c < 127)) ? 1 : 0;
  EXPECT_GT(static_cast<double>(printable) / first.size(), 0.95);
}

}  // namespace
}  // namespace behemoth
