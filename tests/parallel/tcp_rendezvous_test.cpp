// The launcher's path: ranks rendezvous through a TCPStore hosted by rank 0 (no FileStore).
#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "parallel/world.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

// A port that was free a moment ago (the kernel picks it; the tiny race is acceptable in a test).
int freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  const int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

TEST(TcpRendezvous, TwoRanksMeetThroughRankZerosStore) {
  const int port = freeLoopbackPort();
  ASSERT_GT(port, 0);
  auto run = runOnRanks(2, [port](const WorldInfo& harness_info) {
    WorldInfo info = harness_info;
    info.store_path.clear();
    info.master_addr = "127.0.0.1";
    info.master_port = port;
    ProcessWorld world(info, dataParallelPlan(2));
    at::Tensor x = at::full({3}, static_cast<float>(info.rank + 1));
    world.world().allReduce(x);
    requireEqual(x, at::full({3}, 3.0f), "sum over a TCP rendezvous");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

}  // namespace
}  // namespace behemoth
