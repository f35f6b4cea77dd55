// `behemoth checkpoint list|show|verify` on checkpoints the test writes itself: the listing with
// the latest marked and the total size, the details in text and JSON, verify's exit status and
// problem lines, and one-line errors for paths that are no checkpoint.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/metrics/progress_printer.h"
#include "tests/cli/cli_test_support.h"
#include "tests/support/checkpoint_fixture.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {
namespace fs = std::filesystem;

CommandResult checkpoint(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"checkpoint"};
  all.insert(all.end(), args.begin(), args.end());
  return runBehemoth(all, std::chrono::seconds(60));
}

std::int64_t directoryBytes(const fs::path& dir) {
  std::int64_t bytes = 0;
  for (const auto& entry : fs::directory_iterator(dir)) bytes += static_cast<std::int64_t>(entry.file_size());
  return bytes;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The output line that contains `part` (empty when none does).
std::string lineWith(const std::string& text, const std::string& part) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (contains(line, part)) return line;
  }
  return "";
}

class CheckpointCommand : public ::testing::Test {
 protected:
  void SetUp() override { writeFixtureRun(out_, {100, 200}); }
  fs::path stepDir(std::int64_t step) const { return checkpointsDir(out_.string()) / stepDirName(step); }
  TempDir temp_;
  fs::path out_ = fs::path(temp_.path()) / "run";
};

TEST_F(CheckpointCommand, ListShowsEveryCheckpointTheLatestAndTheTotal) {
  for (const fs::path& where : {out_, checkpointsDir(out_.string())}) {
    const CommandResult text = checkpoint({"list", where.string()});
    ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
    const std::string first = lineWith(text.stdout_text, "  100  "), second = lineWith(text.stdout_text, "  200  ");
    ASSERT_FALSE(first.empty()) << text.stdout_text;
    EXPECT_FALSE(contains(first, "latest")) << text.stdout_text;
    EXPECT_TRUE(contains(second, "latest")) << text.stdout_text;
    EXPECT_TRUE(contains(text.stdout_text, "tp 2")) << text.stdout_text;
    const double total = double(directoryBytes(stepDir(100)) + directoryBytes(stepDir(200)));
    EXPECT_TRUE(contains(text.stdout_text, "2 checkpoints, " + formatBytes(total) + " in all")) << text.stdout_text;
  }
  const CommandResult json = checkpoint({"list", out_.string(), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  const auto out = nlohmann::json::parse(json.stdout_text);
  ASSERT_EQ(out.at("checkpoints").size(), 2u);
  EXPECT_EQ(out.at("checkpoints").at(0).at("step"), 100);
  EXPECT_EQ(out.at("checkpoints").at(0).at("latest"), false);
  EXPECT_EQ(out.at("checkpoints").at(1).at("latest"), true);
  EXPECT_EQ(out.at("latest"), 200);
  EXPECT_EQ(out.at("checkpoints").at(1).at("world_size"), 2);
  EXPECT_EQ(out.at("bytes").get<std::int64_t>(), directoryBytes(stepDir(100)) + directoryBytes(stepDir(200)));
}

TEST_F(CheckpointCommand, ListOfAFolderWithoutCheckpointsSaysSo) {
  const CommandResult empty = checkpoint({"list", temp_.path()});
  ASSERT_EQ(empty.exit_code, 0) << empty.stderr_text;
  EXPECT_TRUE(contains(empty.stdout_text, "no checkpoints in")) << empty.stdout_text;
  const CommandResult missing = checkpoint({"list", temp_.file("nowhere")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.stderr_text, "nowhere: no such directory")) << missing.stderr_text;
}

TEST_F(CheckpointCommand, ShowPrintsTheStateFilesAndTensors) {
  const CheckpointIndex index = readCheckpointIndex(stepDir(200));
  const CommandResult text = checkpoint({"show", stepDir(200).string()});
  ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
  for (const char* expected : {"step", "200", "tp 2", "world size", "fp32", "0.1.0", "2026-12-01T10:00:00Z",
                               "rank-00000.safetensors", "rank-00001.safetensors"}) {
    EXPECT_TRUE(contains(text.stdout_text, expected)) << expected << "\n" << text.stdout_text;
  }
  for (const IndexedFile& file : index.files) {
    EXPECT_TRUE(contains(lineWith(text.stdout_text, file.name), file.checksum)) << text.stdout_text;
    EXPECT_TRUE(contains(lineWith(text.stdout_text, file.name), std::to_string(file.bytes))) << text.stdout_text;
  }
  const std::string mlp = lineWith(text.stdout_text, "model/mlp.weight");
  EXPECT_TRUE(contains(mlp, "[4, 6]") && contains(mlp, "F32") && contains(mlp, "2")) << mlp;

  const CommandResult json = checkpoint({"show", stepDir(200).string(), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_text;
  const auto out = nlohmann::json::parse(json.stdout_text);
  EXPECT_EQ(out.at("step"), 200);
  EXPECT_EQ(out.at("world_size"), 2);
  EXPECT_EQ(out.at("layout"), "tp 2");
  EXPECT_EQ(out.at("precision"), "fp32");
  EXPECT_EQ(out.at("engine_version"), "0.1.0");
  ASSERT_EQ(out.at("files").size(), index.files.size());
  EXPECT_EQ(out.at("files").at(1).at("checksum"), index.files.at(1).checksum);
  ASSERT_EQ(out.at("tensors").size(), index.tensors.size());
  for (const auto& tensor : out.at("tensors")) {
    const IndexedTensor* indexed = index.find(tensor.at("name").get<std::string>());
    ASSERT_NE(indexed, nullptr) << tensor.dump();
    EXPECT_EQ(tensor.at("shape").get<std::vector<std::int64_t>>(), indexed->shape);
    EXPECT_EQ(tensor.at("dtype"), indexed->dtype);
    EXPECT_EQ(tensor.at("pieces").get<std::size_t>(), indexed->pieces.size());
  }
}

TEST_F(CheckpointCommand, VerifyPassesAGoodCheckpointAndListsEveryProblemOfABadOne) {
  const CommandResult good = checkpoint({"verify", stepDir(100).string()});
  EXPECT_EQ(good.exit_code, 0) << good.stdout_text << good.stderr_text;
  EXPECT_TRUE(contains(good.stdout_text, ": ok (2 files, 8 pieces")) << good.stdout_text;

  fs::remove(stepDir(100) / "rank-00001.safetensors");
  writeFile((stepDir(100) / "stray.bin").string(), "x");
  const CommandResult bad = checkpoint({"verify", stepDir(100).string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.stdout_text, "rank-00001.safetensors: missing")) << bad.stdout_text;
  EXPECT_TRUE(contains(bad.stdout_text, "stray.bin: not listed in index.json")) << bad.stdout_text;
  EXPECT_TRUE(contains(bad.stdout_text, ": 2 problems")) << bad.stdout_text;
}

TEST_F(CheckpointCommand, ShowAndVerifyOfAnOutDirMeanItsLatest) {
  const CommandResult verify = checkpoint({"verify", out_.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  EXPECT_TRUE(contains(verify.stdout_text, stepDirName(200))) << verify.stdout_text;
  const CommandResult show = checkpoint({"show", out_.string(), "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(show.stdout_text).at("step"), 200);
}

TEST_F(CheckpointCommand, APathThatIsNoCheckpointIsOneLine) {
  for (const char* command : {"show", "verify"}) {
    const CommandResult result = checkpoint({command, temp_.path()});
    EXPECT_EQ(result.exit_code, 1) << command;
    EXPECT_TRUE(contains(result.stderr_text, "not a checkpoint")) << result.stderr_text;
    EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1) << result.stderr_text;
  }
}

}  // namespace
}  // namespace behemoth

namespace behemoth {
namespace {

// What a real run saved: `behemoth run` with train.checkpoint_every, then the three commands.
TEST(CheckpointCommandOnARun, ListsShowsAndVerifiesWhatTheTrainerWrote) {
  TempDir dir;
  const std::string out = dir.file("out");
  nlohmann::json project = tinyProjectJson(out, 6);
  project["parallel"]["zero"] = 1;
  project["train"]["checkpoint_every"] = 2;
  project["train"]["checkpoint_keep"] = 2;
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;

  const CommandResult list = checkpoint({"list", out, "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.stderr_text;
  const auto listed = nlohmann::json::parse(list.stdout_text);
  ASSERT_EQ(listed.at("checkpoints").size(), 2u) << list.stdout_text;  // checkpoint_keep 2: steps 4 and 6
  EXPECT_EQ(listed.at("checkpoints").at(0).at("step"), 4);
  EXPECT_EQ(listed.at("latest"), 6);
  EXPECT_EQ(listed.at("checkpoints").at(1).at("layout"), "dp 2, ZeRO-1");

  const fs::path latest = checkpointsDir(out) / stepDirName(6);
  const CommandResult show = checkpoint({"show", latest.string(), "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.stderr_text;
  const auto shown = nlohmann::json::parse(show.stdout_text);
  EXPECT_EQ(shown.at("step"), 6);
  EXPECT_EQ(shown.at("world_size"), 2);
  EXPECT_EQ(shown.at("project"), "cli-tiny");
  ASSERT_EQ(shown.at("files").size(), 2u);
  bool has_moment = false;
  for (const auto& tensor : shown.at("tensors")) has_moment = has_moment || tensor.at("name") == "exp_avg/tok_emb.weight";
  EXPECT_TRUE(has_moment) << show.stdout_text;

  const CommandResult good = checkpoint({"verify", latest.string()});
  EXPECT_EQ(good.exit_code, 0) << good.stdout_text;
  EXPECT_TRUE(contains(good.stdout_text, ": ok (2 files")) << good.stdout_text;

  // One flipped byte in the data of a piece rank 1 holds: the file and the tensor are named.
  const CheckpointIndex index = readCheckpointIndex(latest);
  const StoredPiece* piece = nullptr;
  const IndexedTensor* owner = nullptr;
  for (const IndexedTensor& tensor : index.tensors) {
    for (const StoredPiece& candidate : tensor.pieces) {
      if (!piece && candidate.file == "rank-00001.safetensors" && candidate.slice.numel > 0) {
        piece = &candidate;
        owner = &tensor;
      }
    }
  }
  ASSERT_NE(piece, nullptr);
  const fs::path file = latest / piece->file;
  {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(dataOffsetOf(file, piece->key));
    io.put('\x7f');
  }
  const CommandResult bad = checkpoint({"verify", latest.string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.stdout_text, "rank-00001.safetensors: tensor " + owner->name + ": its piece")) << bad.stdout_text;
  EXPECT_TRUE(contains(lineWith(bad.stdout_text, "tensor " + owner->name), "checksum"))
      << bad.stdout_text;
  EXPECT_TRUE(contains(bad.stdout_text, ": 2 problems")) << bad.stdout_text;
}

}  // namespace
}  // namespace behemoth
