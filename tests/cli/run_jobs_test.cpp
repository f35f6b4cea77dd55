// `behemoth run` end to end: local workers, a two-node job on one machine, a worker killed mid-run,
// and the run landing in the history.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <future>
#include <thread>

#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

void expectSameLosses(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_FALSE(a.empty());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-5 * std::abs(a[k])) << "step " << k;
}

int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(RunJobs, TwoLocalWorkersMatchOneProcessAndAreRecorded) {
  TempDir dir;
  writeFile(dir.file("one.json"), tinyProjectJson(dir.file("one")).dump());
  writeFile(dir.file("two.json"), tinyProjectJson(dir.file("two")).dump());
  const std::string db = dir.file("history.sqlite");
  const CommandResult one = runBehemoth({"run", dir.file("one.json"), "--history", db});
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  const CommandResult two = runBehemoth({"run", dir.file("two.json"), "--nproc", "2", "--history", db});
  ASSERT_EQ(two.exit_code, 0) << two.stderr_text;
  expectSameLosses(lossesIn(dir.file("one/metrics.jsonl")), lossesIn(dir.file("two/metrics.jsonl")));

  const CommandResult list = runBehemoth({"history", "--db", db, "list"});
  ASSERT_EQ(list.exit_code, 0) << list.stderr_text;
  EXPECT_NE(list.stdout_text.find("dp2"), std::string::npos) << list.stdout_text;
  EXPECT_EQ(std::count(list.stdout_text.begin(), list.stdout_text.end(), '\n'), 3) << list.stdout_text;  // header + 2
  const CommandResult compare = runBehemoth({"history", "--db", db, "compare", "1", "2"});
  EXPECT_EQ(compare.exit_code, 0) << compare.stderr_text;
}

TEST(RunJobs, EventsFlagStreamsJsonLines) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 3).dump());
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history", "--events"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  std::istringstream lines(run.stdout_text);
  std::vector<std::string> types;
  for (std::string line; std::getline(lines, line);) types.push_back(nlohmann::json::parse(line).at("event"));
  ASSERT_GE(types.size(), 5u);
  EXPECT_EQ(types.front(), "run_started");
  EXPECT_EQ(std::count(types.begin(), types.end(), "step"), 3);
  EXPECT_EQ(types.back(), "run_finished");
}

TEST(RunJobs, TwoNodesOnOneMachineFormOneJob) {
  TempDir dir;
  writeFile(dir.file("single.json"), tinyProjectJson(dir.file("single")).dump());
  writeFile(dir.file("nodes.json"), tinyProjectJson(dir.file("nodes")).dump());
  const CommandResult single = runBehemoth({"run", dir.file("single.json"), "--no-history"});
  ASSERT_EQ(single.exit_code, 0) << single.stderr_text;

  const std::string master = "127.0.0.1:" + std::to_string(freePort());
  auto node = [&](const std::string& rank) {
    return runBehemoth({"run", dir.file("nodes.json"), "--nnodes", "2", "--node-rank", rank, "--master", master,
                        "--nproc", "1", "--no-history"});
  };
  auto second = std::async(std::launch::async, node, "1");
  const CommandResult first = node("0");
  const CommandResult other = second.get();
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  ASSERT_EQ(other.exit_code, 0) << other.stderr_text;
  expectSameLosses(lossesIn(dir.file("single/metrics.jsonl")), lossesIn(dir.file("nodes/metrics.jsonl")));
}

TEST(RunJobs, KilledWorkerStopsTheJobWithItsRankNamed) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 100000).dump());
  // Kill rank 1 once the job is training; the launcher must notice, stop rank 0 and fail fast.
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    const std::string metrics = dir.file("out/metrics.jsonl");
    for (int tries = 0; tries < 600 && !killed; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (lossesIn(metrics).size() < 2) continue;
      // Find rank 1's worker by its command line (this job's folder) and environment.
      DIR* proc = opendir("/proc");
      while (dirent* entry = readdir(proc)) {
        const pid_t pid = std::atoi(entry->d_name);
        if (pid <= 0) continue;
        const std::string environ = readFile("/proc/" + std::to_string(pid) + "/environ");
        const std::string cmdline = readFile("/proc/" + std::to_string(pid) + "/cmdline");
        if (cmdline.find(dir.path()) != std::string::npos && cmdline.find("worker") != std::string::npos &&
            environ.find(std::string("BEHEMOTH_RANK=1") + '\0') != std::string::npos) {
          kill(pid, SIGKILL);
          killed = true;
        }
      }
      closedir(proc);
    }
  });
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history", "--timeout", "20"},
                                        std::chrono::seconds(120));
  killed = true;
  killer.join();
  EXPECT_EQ(run.exit_code, 1) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("rank 1"), std::string::npos) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("signal 9"), std::string::npos) << run.stderr_text;
}

}  // namespace
}  // namespace behemoth
