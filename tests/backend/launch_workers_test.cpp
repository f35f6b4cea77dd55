// The local launcher, driven with /bin/sh scripts as workers: what each worker sees, what comes
// back through the callbacks, and that failures, signals and timeouts leave no process behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend/launch/launcher.h"

namespace behemoth {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Output {
  std::map<int, std::vector<std::string>> out;
  std::map<int, std::vector<std::string>> err;
};

WorkerSpec shellWorkers(int nproc, const std::string& script) {
  WorkerSpec spec;
  spec.executable = "/bin/sh";
  spec.args = {"-c", script};
  spec.nproc = nproc;
  spec.master_port = 29400;
  spec.shutdown_grace = 2s;
  spec.timeout = 30s;  // a broken launcher fails the test instead of hanging it
  return spec;
}

LaunchResult launchCollecting(const WorkerSpec& spec, Output& output) {
  return launchWorkers(
      spec, [&output](int rank, const std::string& line) { output.out[rank].push_back(line); },
      [&output](int rank, const std::string& line) { output.err[rank].push_back(line); });
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A reaped child of ours no longer exists at all.
bool processIsGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// A grandchild is reparented to init when killed, which may reap it a moment later (or, in a
// container whose init does not reap, never): dead means gone or a zombie.
bool processIsDead(pid_t pid) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (processIsGone(pid)) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const std::size_t paren = text.rfind(')');
    if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z') return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

pid_t pidFromLine(const std::vector<std::string>& lines, std::size_t index) {
  if (index >= lines.size()) {
    throw std::runtime_error("worker did not print its pid");
  }
  return static_cast<pid_t>(std::stol(lines[index]));
}

std::string invalidSpecMessage(const WorkerSpec& spec) {
  try {
    launchWorkers(spec, [](int, const std::string&) {}, [](int, const std::string&) {});
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no std::invalid_argument thrown";
}

TEST(LaunchWorkers, EveryLineArrivesWithItsRank) {
  Output output;
  const LaunchResult result = launchCollecting(
      shellWorkers(3, "echo \"hello from $BEHEMOTH_RANK\"; echo \"error from $BEHEMOTH_RANK\" >&2; echo bye"), output);
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.failed_rank, -1);
  EXPECT_EQ(result.error, "");
  ASSERT_EQ(output.out.size(), 3u);
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(output.out[rank], (std::vector<std::string>{"hello from " + std::to_string(rank), "bye"}));
    EXPECT_EQ(output.err[rank], (std::vector<std::string>{"error from " + std::to_string(rank)}));
  }
}

TEST(LaunchWorkers, EnvironmentDescribesTheWorldOfTheSecondNode) {
  ::setenv("LAUNCH_TEST_INHERITED", "inherited-value", 1);
  ::setenv("BEHEMOTH_RANK", "99", 1);  // a stale value in the launcher's environment must not leak
  WorkerSpec spec = shellWorkers(
      2,
      "echo \"$BEHEMOTH_RANK $BEHEMOTH_WORLD_SIZE $BEHEMOTH_LOCAL_RANK $BEHEMOTH_LOCAL_WORLD_SIZE "
      "$BEHEMOTH_MASTER_ADDR $BEHEMOTH_MASTER_PORT $LAUNCH_TEST_INHERITED\"");
  spec.nnodes = 2;
  spec.node_rank = 1;
  spec.master_addr = "10.1.2.3";
  spec.master_port = 29501;
  Output output;
  const LaunchResult result = launchCollecting(spec, output);
  ::unsetenv("LAUNCH_TEST_INHERITED");
  ::unsetenv("BEHEMOTH_RANK");

  EXPECT_TRUE(result.ok) << result.error;
  ASSERT_EQ(output.out.size(), 2u);
  EXPECT_EQ(output.out[2], (std::vector<std::string>{"2 4 0 2 10.1.2.3 29501 inherited-value"}));
  EXPECT_EQ(output.out[3], (std::vector<std::string>{"3 4 1 2 10.1.2.3 29501 inherited-value"}));
}

TEST(LaunchWorkers, PortZeroPicksOneFreePortSharedByAllRanks) {
  WorkerSpec spec = shellWorkers(3, "echo $BEHEMOTH_MASTER_PORT");
  spec.master_port = 0;
  Output output;
  const LaunchResult result = launchCollecting(spec, output);
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_EQ(output.out[0].size(), 1u);
  const int port = std::stoi(output.out[0][0]);
  EXPECT_GE(port, 1);
  EXPECT_LE(port, 65535);
  EXPECT_EQ(output.out[1], output.out[0]);
  EXPECT_EQ(output.out[2], output.out[0]);
}

TEST(LaunchWorkers, FailingWorkerStopsTheOthersAndIsNamed) {
  const auto start = Clock::now();
  Output output;
  const LaunchResult result = launchCollecting(
      shellWorkers(3,
                   "if [ \"$BEHEMOTH_RANK\" = 1 ]; then echo 'bad shard index' >&2; sleep 0.5; exit 3; fi; "
                   "echo $$; exec sleep 60"),
      output);
  const double elapsed = secondsSince(start);

  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.failed_rank, 1);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.signal, 0);
  EXPECT_EQ(result.interrupted_by, 0);
  EXPECT_FALSE(result.timed_out);
  EXPECT_NE(result.error.find("rank 1 exited with code 3"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("bad shard index"), std::string::npos) << result.error;
  // The sleepers die from SIGTERM at once; the grace (2 s) is not waited out.
  EXPECT_LT(elapsed, 5.0);
  for (const int survivor : {0, 2}) {
    const pid_t pid = pidFromLine(output.out[survivor], 0);
    EXPECT_TRUE(processIsGone(pid)) << "rank " << survivor << " (pid " << pid << ") is still there";
  }
}

TEST(LaunchWorkers, WorkerKilledBySignalIsReportedAsSignal) {
  Output output;
  const LaunchResult result = launchCollecting(
      shellWorkers(2, "if [ \"$BEHEMOTH_RANK\" = 0 ]; then sleep 0.2; kill -9 $$; fi; echo $$; exec sleep 60"),
      output);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.failed_rank, 0);
  EXPECT_EQ(result.signal, 9);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.error.find("rank 0 was killed by signal 9 (SIGKILL)"), std::string::npos) << result.error;
  EXPECT_EQ(result.headline, "rank 0 was killed by signal 9 (SIGKILL)");
  EXPECT_TRUE(processIsGone(pidFromLine(output.out[1], 0)));
}

TEST(LaunchWorkers, ErrorCarriesTheLastTwentyStderrLines) {
  Output output;
  const LaunchResult result = launchCollecting(
      shellWorkers(1, "i=1; while [ $i -le 30 ]; do printf 'err-%02d\\n' $i >&2; i=$((i+1)); done; exit 2"), output);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.failed_rank, 0);
  EXPECT_EQ(result.exit_code, 2);
  ASSERT_EQ(output.err[0].size(), 30u);  // the callback still sees every line
  EXPECT_EQ(output.err[0].front(), "err-01");
  for (int line = 1; line <= 30; ++line) {
    const std::string text = (line < 10 ? "err-0" : "err-") + std::to_string(line);
    const bool in_error = result.error.find(text) != std::string::npos;
    EXPECT_EQ(in_error, line > 10) << text << " in:\n" << result.error;
  }
}

TEST(LaunchWorkers, WorkersIgnoringSigtermAreKilledAfterTheGrace) {
  WorkerSpec spec = shellWorkers(
      2, "if [ \"$BEHEMOTH_RANK\" = 1 ]; then sleep 0.3; exit 5; fi; trap '' TERM; echo $$; "
         "while :; do sleep 0.05; done");
  spec.shutdown_grace = 1s;
  const auto start = Clock::now();
  Output output;
  const LaunchResult result = launchCollecting(spec, output);
  const double elapsed = secondsSince(start);

  EXPECT_EQ(result.failed_rank, 1);
  EXPECT_EQ(result.exit_code, 5);
  EXPECT_GE(elapsed, 1.0);  // SIGTERM was ignored, so only SIGKILL after the grace ended it
  EXPECT_LT(elapsed, 6.0);
  EXPECT_TRUE(processIsGone(pidFromLine(output.out[0], 0)));
}

TEST(LaunchWorkers, LeftoverChildrenOfAWorkerAreKilled) {
  const auto start = Clock::now();
  Output output;
  // The background sleep keeps the pipes open: without the group kill the launch would hang.
  const LaunchResult result = launchCollecting(shellWorkers(1, "sleep 60 & echo $!; exit 0"), output);
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_LT(secondsSince(start), 5.0);
  EXPECT_TRUE(processIsDead(pidFromLine(output.out[0], 0)));
}

TEST(LaunchWorkers, UnterminatedLastLineIsDelivered) {
  Output output;
  const LaunchResult result = launchCollecting(shellWorkers(1, "printf 'first\\r\\nno newline'"), output);
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(output.out[0], (std::vector<std::string>{"first", "no newline"}));
}

TEST(LaunchWorkers, ManyLinesArriveCompleteAndInOrder) {
  Output output;
  const LaunchResult result = launchCollecting(
      shellWorkers(2, "i=0; while [ $i -lt 3000 ]; do echo \"$BEHEMOTH_RANK:$i\"; i=$((i+1)); done"), output);
  ASSERT_TRUE(result.ok) << result.error;
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_EQ(output.out[rank].size(), 3000u);
    for (int i = 0; i < 3000; ++i) {
      ASSERT_EQ(output.out[rank][i], std::to_string(rank) + ":" + std::to_string(i));
    }
  }
}

TEST(LaunchWorkers, ExecutableThatCannotRunIsReportedForItsRank) {
  WorkerSpec spec = shellWorkers(2, "");
  spec.executable = "/nonexistent/behemoth-worker";
  Output output;
  const LaunchResult result = launchCollecting(spec, output);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.failed_rank, 0);
  EXPECT_EQ(result.exit_code, 127);
  EXPECT_NE(result.error.find("rank 0 could not be started"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("/nonexistent/behemoth-worker"), std::string::npos) << result.error;
}

TEST(LaunchWorkers, TimeoutStopsHungWorkers) {
  WorkerSpec spec = shellWorkers(2, "echo $$; exec sleep 60");
  spec.timeout = 1s;
  const auto start = Clock::now();
  Output output;
  const LaunchResult result = launchCollecting(spec, output);
  const double elapsed = secondsSince(start);
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.failed_rank, -1);
  EXPECT_NE(result.error.find("timed out after 1 s"), std::string::npos) << result.error;
  EXPECT_GE(elapsed, 1.0);
  EXPECT_LT(elapsed, 5.0);
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_TRUE(processIsGone(pidFromLine(output.out[rank], 0)));
  }
}

TEST(LaunchWorkers, InterruptIsForwardedAndHandlersRestored) {
  struct sigaction before {};
  ::sigaction(SIGINT, nullptr, &before);
  WorkerSpec spec = shellWorkers(2, "echo $$; echo ready; exec sleep 60");
  std::map<int, std::vector<std::string>> out;
  int ready = 0;
  const auto start = Clock::now();
  const LaunchResult result = launchWorkers(
      spec,
      [&](int rank, const std::string& line) {
        out[rank].push_back(line);
        if (line == "ready" && ++ready == 2) {
          ::raise(SIGINT);  // as if the user pressed Ctrl-C in the launcher's terminal
        }
      },
      [](int, const std::string&) {});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.interrupted_by, SIGINT);
  EXPECT_EQ(result.failed_rank, -1);
  EXPECT_NE(result.error.find("SIGINT"), std::string::npos) << result.error;
  EXPECT_LT(secondsSince(start), 5.0);
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_TRUE(processIsGone(pidFromLine(out[rank], 0)));
  }
  struct sigaction after {};
  ::sigaction(SIGINT, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

TEST(LaunchWorkers, AUserStopGivesWorkersTheStopGraceToFinish) {
  // Workers that take a second to "write their final checkpoint" when asked to stop. The failure
  // grace is zero: were it used for a user stop, SIGKILL would cut them short.
  WorkerSpec spec = shellWorkers(2, "trap 'sleep 1; echo saved; exit 0' INT TERM; echo ready; "
                                    "while :; do sleep 0.05; done");
  spec.shutdown_grace = 0s;
  spec.stop_grace = 60s;
  std::map<int, std::vector<std::string>> out;
  int ready = 0;
  const LaunchResult result = launchWorkers(
      spec,
      [&](int rank, const std::string& line) {
        out[rank].push_back(line);
        if (line == "ready" && ++ready == 2) ::raise(SIGINT);
      },
      [](int, const std::string&) {});
  EXPECT_EQ(result.interrupted_by, SIGINT);
  EXPECT_EQ(result.failed_rank, -1);
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(out[rank], (std::vector<std::string>{"ready", "saved"})) << "rank " << rank;
  }
}

TEST(LaunchWorkers, ExtraEnvironmentReachesEveryWorker) {
  WorkerSpec spec = shellWorkers(2, "echo \"$BEHEMOTH_RESTART\"");
  spec.extra_environment = {"BEHEMOTH_RESTART=3"};
  Output output;
  const LaunchResult result = launchCollecting(spec, output);
  ASSERT_TRUE(result.ok) << result.error;
  for (int rank = 0; rank < 2; ++rank) EXPECT_EQ(output.out[rank], (std::vector<std::string>{"3"}));
}

TEST(LaunchWorkers, ThrowingHandlerStillStopsAndReapsWorkers) {
  std::vector<pid_t> pids;
  const WorkerSpec spec = shellWorkers(1, "echo $$; echo next; exec sleep 60");
  EXPECT_THROW(launchWorkers(
                   spec,
                   [&](int, const std::string& line) {
                     if (line == "next") throw std::runtime_error("handler failed");
                     pids.push_back(static_cast<pid_t>(std::stol(line)));
                   },
                   [](int, const std::string&) {}),
               std::runtime_error);
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(processIsGone(pids[0]));
}

TEST(LaunchWorkers, WorkersDieWhenTheLauncherIsKilled) {
  int pid_pipe[2];
  ASSERT_EQ(::pipe(pid_pipe), 0);
  const pid_t launcher = ::fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    // The launcher: reports each worker's pid to the test, then is SIGKILLed without cleaning up.
    ::close(pid_pipe[0]);
    try {
      WorkerSpec spec = shellWorkers(2, "echo $$; exec sleep 60");
      spec.forward_signals = false;
      launchWorkers(
          spec,
          [&](int, const std::string& line) {
            const std::string message = line + "\n";
            [[maybe_unused]] const ssize_t written = ::write(pid_pipe[1], message.data(), message.size());
          },
          [](int, const std::string&) {});
    } catch (...) {
    }
    ::_exit(0);
  }
  ::close(pid_pipe[1]);
  std::string received;
  char buffer[64];
  ssize_t got = 0;
  while (std::count(received.begin(), received.end(), '\n') < 2 && (got = ::read(pid_pipe[0], buffer, sizeof(buffer))) > 0) {
    received.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(pid_pipe[0]);
  ::kill(launcher, SIGKILL);
  ::waitpid(launcher, nullptr, 0);

  const std::size_t newline = received.find('\n');
  ASSERT_NE(newline, std::string::npos) << "launcher reported no worker pid";
  const pid_t first = static_cast<pid_t>(std::stol(received.substr(0, newline)));
  const pid_t second = static_cast<pid_t>(std::stol(received.substr(newline + 1)));
  // PR_SET_PDEATHSIG: the orphaned workers were sent SIGKILL when their launcher died.
  EXPECT_TRUE(processIsDead(first)) << "worker pid " << first << " outlived its launcher";
  EXPECT_TRUE(processIsDead(second)) << "worker pid " << second << " outlived its launcher";
}

TEST(LaunchWorkers, SpecsThatCannotWorkAreRejectedBeforeLaunch) {
  WorkerSpec no_workers = shellWorkers(0, "true");
  EXPECT_NE(invalidSpecMessage(no_workers).find("nproc must be at least 1, got 0"), std::string::npos);

  WorkerSpec node_out_of_range = shellWorkers(1, "true");
  node_out_of_range.nnodes = 2;
  node_out_of_range.node_rank = 2;
  EXPECT_NE(invalidSpecMessage(node_out_of_range).find("node_rank must be in [0, 2), got 2"), std::string::npos);

  WorkerSpec multi_node_free_port = shellWorkers(1, "true");
  multi_node_free_port.nnodes = 2;
  multi_node_free_port.master_port = 0;
  EXPECT_NE(invalidSpecMessage(multi_node_free_port).find("single node only"), std::string::npos);

  WorkerSpec bad_port = shellWorkers(1, "true");
  bad_port.master_port = 70000;
  EXPECT_NE(invalidSpecMessage(bad_port).find("master_port must be in [0, 65535], got 70000"), std::string::npos);

  WorkerSpec no_executable = shellWorkers(1, "true");
  no_executable.executable.clear();
  EXPECT_NE(invalidSpecMessage(no_executable).find("executable is empty"), std::string::npos);
}

}  // namespace
}  // namespace behemoth
