// `behemoth run` on the data section's new inputs: data.tokenizer "byte" named explicitly (the same
// run as without it) and a JSONL corpus, and the run_started event naming tokenizer and tokens.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

// The run_started event of an --events run's stdout.
nlohmann::json runStarted(const std::string& stdout_text) {
  std::istringstream lines(stdout_text);
  for (std::string line; std::getline(lines, line);) {
    const auto event = nlohmann::json::parse(line);
    if (event.at("event") == "run_started") return event;
  }
  ADD_FAILURE() << "no run_started event in " << stdout_text;
  return {};
}

TEST(TokenDataRun, ByteTokenizerNamedExplicitlyTrainsTheSameRun) {
  TempDir dir;
  nlohmann::json implicit = tinyProjectJson(dir.file("implicit"), 3);
  nlohmann::json named = tinyProjectJson(dir.file("named"), 3);
  named["data"]["tokenizer"] = "byte";
  writeFile(dir.file("implicit.json"), implicit.dump());
  writeFile(dir.file("named.json"), named.dump());
  const CommandResult first = runBehemoth({"run", dir.file("implicit.json"), "--no-history"});
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  const CommandResult second = runBehemoth({"run", dir.file("named.json"), "--no-history", "--events"});
  ASSERT_EQ(second.exit_code, 0) << second.stderr_text;
  // Bit for bit: the explicit byte tokenizer is today's path.
  EXPECT_EQ(lossesIn(dir.file("implicit/metrics.jsonl")), lossesIn(dir.file("named/metrics.jsonl")));
  const nlohmann::json started = runStarted(second.stdout_text);
  EXPECT_EQ(started.at("tokenizer"), "byte");
  EXPECT_GT(started.at("tokens").get<std::int64_t>(), 100000);  // the builtin corpus's bytes
  EXPECT_EQ(started.at("project").at("data").at("tokenizer"), "byte");
  EXPECT_FALSE(std::filesystem::exists(dir.file("token-cache")));  // no cache for bytes
}

TEST(TokenDataRun, AJsonlCorpusTrainsOnItsDocuments) {
  TempDir dir;
  std::string lines;
  std::int64_t bytes = 0;
  for (int k = 0; k < 400; ++k) {
    const std::string text = "document " + std::to_string(k) + " says the quick brown fox jumps over the lazy dog";
    lines += nlohmann::json{{"id", k}, {"text", text}}.dump() + "\n";
    bytes += static_cast<std::int64_t>(text.size()) + 1;  // and the line break after it
  }
  writeFile(dir.file("docs.jsonl"), lines);
  nlohmann::json project = tinyProjectJson(dir.file("out"), 3);
  project["data"]["corpus"] = "docs.jsonl";  // relative to the project file
  project["data"]["tokenizer"] = "byte";
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history", "--events"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(lossesIn(dir.file("out/metrics.jsonl")).size(), 3u);
  const nlohmann::json started = runStarted(run.stdout_text);
  EXPECT_EQ(started.at("tokens").get<std::int64_t>(), bytes);
  EXPECT_EQ(started.at("project").at("data").at("corpus"), dir.file("docs.jsonl"));
}

}  // namespace
}  // namespace behemoth
