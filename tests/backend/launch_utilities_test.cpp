// The launcher's small parts: line splitting, the free port, the self path, signal names.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/launch/free_port.h"
#include "backend/launch/line_splitter.h"
#include "backend/launch/self_executable.h"
#include "backend/launch/signal_name.h"

namespace behemoth {
namespace {

std::vector<std::string> splitAll(const std::vector<std::string>& chunks, std::size_t max_line_bytes = 1 << 20) {
  std::vector<std::string> lines;
  const auto collect = [&lines](const std::string& line) { lines.push_back(line); };
  LineSplitter splitter(max_line_bytes);
  for (const std::string& chunk : chunks) {
    splitter.feed(chunk, collect);
  }
  splitter.finish(collect);
  return lines;
}

TEST(LaunchLineSplitter, JoinsLinesAcrossChunks) {
  EXPECT_EQ(splitAll({"al", "pha\nbe", "ta\n", "\ngamma"}),
            (std::vector<std::string>{"alpha", "beta", "", "gamma"}));
}

TEST(LaunchLineSplitter, StripsCarriageReturnBeforeNewlineOnly) {
  EXPECT_EQ(splitAll({"dos\r", "\nmid\rdle\n"}), (std::vector<std::string>{"dos", "mid\rdle"}));
}

TEST(LaunchLineSplitter, CutsOverlongLinesIntoPieces) {
  EXPECT_EQ(splitAll({"abcdefg", "h\nxyz\n"}, 3), (std::vector<std::string>{"abc", "def", "gh", "xyz"}));
  // A line of exactly the limit is one line, not a line and an empty one.
  EXPECT_EQ(splitAll({"abc", "\nd\n"}, 3), (std::vector<std::string>{"abc", "d"}));
}

TEST(LaunchLineSplitter, FinishWithoutPendingTextEmitsNothing) {
  EXPECT_EQ(splitAll({"one\n"}), (std::vector<std::string>{"one"}));
  EXPECT_TRUE(splitAll({}).empty());
}

TEST(LaunchFreePort, PortCanBeBoundAfterwards) {
  const int port = pickFreePort();
  ASSERT_GT(port, 0);
  ASSERT_LE(port, 65535);
  const int socket_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(socket_fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(::bind(socket_fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  ::close(socket_fd);
}

TEST(LaunchSelfExecutable, IsTheRunningTestBinary) {
  const std::string path = selfExecutablePath();
  char resolved[PATH_MAX];
  ASSERT_NE(::realpath("/proc/self/exe", resolved), nullptr);
  EXPECT_EQ(path, std::string(resolved));
  EXPECT_EQ(path.front(), '/');
  EXPECT_EQ(::access(path.c_str(), X_OK), 0);
}

TEST(LaunchSignalName, NamesCommonSignalsAndNumbersTheRest) {
  EXPECT_EQ(signalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(signalName(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(signalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(signalName(60), "signal 60");
}

}  // namespace
}  // namespace behemoth
