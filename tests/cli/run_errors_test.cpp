// Bad input is refused before any worker starts, with one clear line naming the field.
#include <gtest/gtest.h>

#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

struct BadInput {
  const char* name;
  std::vector<std::string> overrides;
  int nproc;
  const char* expected;  // part of the one-line message
};

class RunRejectsBadInput : public testing::TestWithParam<BadInput> {};

TEST_P(RunRejectsBadInput, WithOneLineNamingTheField) {
  const BadInput bad = GetParam();
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out")).dump());
  std::vector<std::string> args = {"run", dir.file("p.json"), "--nproc", std::to_string(bad.nproc), "--no-history"};
  for (const auto& assignment : bad.overrides) {
    args.push_back("--set");
    args.push_back(assignment);
  }
  const CommandResult result = runBehemoth(args, std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(bad.expected), std::string::npos) << result.stderr_text;
  // One line, and no worker ever started (nothing printed by a rank, no output folder).
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1) << result.stderr_text;
  EXPECT_EQ(result.stdout_text.find("[rank"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RunRejectsBadInput,
    testing::Values(BadInput{"unknown_key", {"model.n_layers=2"}, 1, "model.n_layers: unknown key"},
                    BadInput{"wrong_type", {"model.n_layer=\"two\""}, 1, "model.n_layer: expected an integer"},
                    BadInput{"tp_not_dividing_world", {"parallel.tp=3"}, 2, "parallel"},
                    BadInput{"batch_not_divisible", {"data.global_batch_size=6", "train.micro_batch_size=2"}, 2,
                             "data.global_batch_size"},
                    BadInput{"missing_corpus", {"data.corpus=/no/such/corpus"}, 2, "data.corpus: no such file or folder"}),
    [](const testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

TEST(RunRejectsBadInput, UnreadableProjectFile) {
  TempDir dir;
  writeFile(dir.file("p.json"), "{\"name\": ");
  const CommandResult result = runBehemoth({"run", dir.file("p.json"), "--no-history"}, std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("invalid JSON"), std::string::npos) << result.stderr_text;
}

}  // namespace
}  // namespace behemoth
