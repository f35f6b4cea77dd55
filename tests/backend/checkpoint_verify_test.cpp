// verifyCheckpoint on checkpoints the test writes itself: a valid one passes with every byte read;
// each kind of damage (a flipped data byte, a truncated, missing or unknown file, a header without
// a piece, wrong dtype, pieces that overlap or leave a gap) is exactly the lines that name it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "tests/support/checkpoint_fixture.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {
namespace fs = std::filesystem;

std::string allProblems(const VerifyReport& report) {
  std::string text;
  for (const std::string& line : report.problems) text += "  " + line + "\n";
  return text;
}

// True when some problem line contains every one of `parts`.
bool hasProblem(const VerifyReport& report, const std::vector<std::string>& parts) {
  for (const std::string& line : report.problems) {
    bool all = true;
    for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
    if (all) return true;
  }
  return false;
}

#define EXPECT_PROBLEM(report, ...) \
  EXPECT_TRUE(hasProblem(report, {__VA_ARGS__})) << "expected a line with: " #__VA_ARGS__ "\n" << allProblems(report)

class CheckpointVerify : public ::testing::Test {
 protected:
  fs::path write(const FixtureCheckpoint& spec) {
    const fs::path dir = fs::path(temp_.path()) / "step-0000100";
    index_ = writeFixtureCheckpoint(dir, spec);
    return dir;
  }
  std::int64_t totalFileBytes() const {
    std::int64_t bytes = 0;
    for (const IndexedFile& file : index_.files) bytes += file.bytes;
    return bytes;
  }
  TempDir temp_;
  CheckpointIndex index_;
};

TEST_F(CheckpointVerify, AValidCheckpointPassesAfterReadingEveryByte) {
  const fs::path dir = write(twoRankCheckpoint());
  const VerifyReport report = verifyCheckpoint(dir);
  EXPECT_TRUE(report.ok()) << allProblems(report);
  EXPECT_EQ(report.files_checked, 2);
  EXPECT_EQ(report.pieces_checked, 8);  // 2 + 2 + 1 + 2 + 1
  EXPECT_EQ(report.bytes_read, totalFileBytes());
}

TEST_F(CheckpointVerify, ACorruptedDataByteNamesTheFileAndTheTensor) {
  const fs::path dir = write(twoRankCheckpoint());
  const fs::path file = dir / "rank-00001.safetensors";
  flipByte(file, dataOffsetOf(file, "model/mlp.weight") + 5);
  const VerifyReport report = verifyCheckpoint(dir);
  ASSERT_EQ(report.problems.size(), 2u) << allProblems(report);
  EXPECT_PROBLEM(report, "rank-00001.safetensors: tensor model/mlp.weight:", "checksum");
  EXPECT_PROBLEM(report, "rank-00001.safetensors: checksum");  // the whole file's
}

TEST_F(CheckpointVerify, ATruncatedFileIsOneLine) {
  const fs::path dir = write(twoRankCheckpoint());
  const fs::path file = dir / "rank-00000.safetensors";
  fs::resize_file(file, fs::file_size(file) - 3);
  const VerifyReport report = verifyCheckpoint(dir);
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "rank-00000.safetensors:", "truncated");
}

TEST_F(CheckpointVerify, AMissingRankFileIsNamed) {
  const fs::path dir = write(twoRankCheckpoint());
  fs::remove(dir / "rank-00001.safetensors");
  const VerifyReport report = verifyCheckpoint(dir);
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "rank-00001.safetensors: missing", "rank 1");
  EXPECT_EQ(report.files_checked, 1);
}

TEST_F(CheckpointVerify, AFileTheIndexDoesNotListIsReported) {
  const fs::path dir = write(twoRankCheckpoint());
  writeFile((dir / "notes.txt").string(), "left here by hand\n");
  const VerifyReport report = verifyCheckpoint(dir);
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "notes.txt: not listed in index.json");
}

TEST_F(CheckpointVerify, AHeaderWithoutAPieceNamesTheTensor) {
  const fs::path dir = write(twoRankCheckpoint());
  removeKeyFromFile(dir / "rank-00001.safetensors", "exp_avg/model/ln.weight");
  rerecordFile(dir, "rank-00001.safetensors");  // only the piece is wrong, not the file's record
  const VerifyReport report = verifyCheckpoint(dir);
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "rank-00001.safetensors: tensor exp_avg/model/ln.weight:", "not in the file");
}

TEST_F(CheckpointVerify, AnUnreadableIndexIsOneLineNamingIt) {
  const fs::path dir = write(twoRankCheckpoint());
  writeFile((dir / "index.json").string(), "{\"format\": 1, \"step\":");
  const VerifyReport report = verifyCheckpoint(dir);
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "index.json");
}

TEST_F(CheckpointVerify, ADtypeTheFileDoesNotHoldIsNamed) {
  FixtureCheckpoint spec = twoRankCheckpoint();
  const fs::path dir = write(spec);
  CheckpointIndex index = readCheckpointIndex(dir);
  for (IndexedTensor& tensor : index.tensors) {
    if (tensor.name == "model/ln.bias") tensor.dtype = "BF16";
  }
  writeFile((dir / "index.json").string(), indexToJson(index).dump());
  const VerifyReport report = verifyCheckpoint(dir);
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "rank-00000.safetensors: tensor model/ln.bias:", "F32", "BF16");
}

TEST_F(CheckpointVerify, OverlappingColumnBoxesAreFoundWithTheFirstElement) {
  FixtureCheckpoint spec = twoRankCheckpoint();
  // Rank 1's columns start at 2, not 3: column 2 of every row is in both boxes, column 5 in none.
  spec.tensors[1].pieces[1] = {1, {0, 2}, {4, 3}};
  const VerifyReport report = verifyCheckpoint(write(spec));
  ASSERT_EQ(report.problems.size(), 2u) << allProblems(report);
  EXPECT_PROBLEM(report, "tensor model/mlp.weight:", "4 elements are in more than one piece", "[0, 2]");
  EXPECT_PROBLEM(report, "tensor model/mlp.weight:", "4 of 24 elements are in no piece", "[0, 5]");
}

TEST_F(CheckpointVerify, AGapBetweenZeroPartitionsIsFound) {
  FixtureCheckpoint spec = twoRankCheckpoint();
  spec.tensors[3].pieces[0].numel = 7;  // rank 0 stops at element 7, rank 1 starts at 8
  const VerifyReport report = verifyCheckpoint(write(spec));
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "tensor exp_avg/model/ln.weight:", "1 of 15 elements are in no piece", "[2, 1]");
}

TEST_F(CheckpointVerify, ATensorNoPieceHoldsIsFound) {
  FixtureCheckpoint spec = twoRankCheckpoint();
  spec.tensors[0].pieces.pop_back();
  const VerifyReport report = verifyCheckpoint(write(spec));
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "tensor model/attn.weight:", "12 of 24 elements are in no piece", "[3, 0]");
}

TEST_F(CheckpointVerify, ASliceOutsideItsTensorIsNamed) {
  FixtureCheckpoint spec = twoRankCheckpoint();
  spec.tensors[0].pieces[1] = {1, {4, 0}, {3, 4}};  // rows 4..6 of a 6-row tensor
  const VerifyReport report = verifyCheckpoint(write(spec));
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  // The index itself is refused (readCheckpointIndex checks every slice against its shape).
  EXPECT_PROBLEM(report, "index.json", "model/attn.weight", "outside");
}

// dp 2 × tp 2 with ZeRO: each rank owns a flat range of its tensor-parallel box (a column box and a
// 3-D box split along the middle dimension), four files.
FixtureCheckpoint zeroOverTensorParallel() {
  FixtureCheckpoint spec;
  spec.world_size = 4;
  spec.layout = "dp 2 × tp 2, ZeRO-1";
  spec.tensors = {
      {"exp_avg/model/mlp.weight",
       {4, 6},
       "F32",
       {{0, {0, 0}, {4, 3}, 0, 5}, {1, {0, 0}, {4, 3}, 5, 7}, {2, {0, 3}, {4, 3}, 0, 5}, {3, {0, 3}, {4, 3}, 5, 7}}},
      {"model/qkv.weight",
       {2, 3, 4},
       "F32",
       {{0, {0, 0, 0}, {2, 2, 4}, 0, 9}, {1, {0, 0, 0}, {2, 2, 4}, 9, 7}, {2, {0, 2, 0}, {2, 1, 4}, 0, 3},
        {3, {0, 2, 0}, {2, 1, 4}, 3, 5}}},
  };
  return spec;
}

TEST_F(CheckpointVerify, FlatRangesOfTensorParallelBoxesCoverEveryElement) {
  const VerifyReport report = verifyCheckpoint(write(zeroOverTensorParallel()));
  EXPECT_TRUE(report.ok()) << allProblems(report);
  EXPECT_EQ(report.files_checked, 4);
  EXPECT_EQ(report.pieces_checked, 8);
}

TEST_F(CheckpointVerify, AGapInsideATensorParallelBoxIsLocatedInGlobalCoordinates) {
  FixtureCheckpoint spec = zeroOverTensorParallel();
  // The second column box's ranges are [0, 5) and [6, 12): box element 5 (box row 1, column 2)
  // is global [1, 5].
  spec.tensors[0].pieces[3] = {3, {0, 3}, {4, 3}, 6, 6};
  // The 3-D box [0, 2, 0] + [2, 1, 4] loses box element 7: global [1, 2, 3].
  spec.tensors[1].pieces[3] = {3, {0, 2, 0}, {2, 1, 4}, 3, 4};
  const VerifyReport report = verifyCheckpoint(write(spec));
  ASSERT_EQ(report.problems.size(), 2u) << allProblems(report);
  EXPECT_PROBLEM(report, "tensor exp_avg/model/mlp.weight:", "1 of 24 elements are in no piece", "[1, 5]");
  EXPECT_PROBLEM(report, "tensor model/qkv.weight:", "1 of 24 elements are in no piece", "[1, 2, 3]");
}

TEST_F(CheckpointVerify, ADirectoryThatIsNoCheckpointIsOneLine) {
  const VerifyReport report = verifyCheckpoint(fs::path(temp_.path()) / "nothing-here");
  ASSERT_EQ(report.problems.size(), 1u) << allProblems(report);
  EXPECT_PROBLEM(report, "nothing-here: not a directory");
}

}  // namespace
}  // namespace behemoth
