// World discovery from each launcher's environment, --master parsing and Slurm's list syntaxes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "backend/launch/rank_discovery.h"

namespace behemoth {
namespace {

// Every variable discovery reads starts unset; the test's own values and the original environment
// are swapped back on destruction, also when an assertion fails.
class ScopedEnvironment {
 public:
  ScopedEnvironment() {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
      ::unsetenv(name);
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  void set(const char* name, const std::string& value) {
    ASSERT_TRUE(saved_.count(name)) << name << " is not in the list of saved variables";
    ::setenv(name, value.c_str(), 1);
  }

 private:
  static constexpr const char* kNames[] = {
      "BEHEMOTH_RANK", "BEHEMOTH_WORLD_SIZE", "BEHEMOTH_LOCAL_RANK", "BEHEMOTH_LOCAL_WORLD_SIZE",
      "BEHEMOTH_MASTER_ADDR", "BEHEMOTH_MASTER_PORT", "MASTER_ADDR", "MASTER_PORT",
      "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
      "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS",
      "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE",
      "SLURM_NODEID", "SLURM_NNODES", "SLURM_JOB_NODELIST", "SLURM_STEP_NODELIST", "SLURM_JOB_ID"};
  std::map<std::string, std::optional<std::string>> saved_;
};

std::string discoveryError(const std::optional<MasterAddress>& master_override = std::nullopt) {
  try {
    rankFromEnvironment(master_override);
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "no std::runtime_error thrown";
}

std::string parseMasterError(const std::string& text) {
  try {
    parseMaster(text);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no std::invalid_argument thrown";
}

void expectRank(const std::optional<LaunchedRank>& found, int rank, int world, int local_rank, int local_world,
                const std::string& addr, int port, const std::string& launcher) {
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->rank, rank);
  EXPECT_EQ(found->world_size, world);
  EXPECT_EQ(found->local_rank, local_rank);
  EXPECT_EQ(found->local_world_size, local_world);
  EXPECT_EQ(found->master_addr, addr);
  EXPECT_EQ(found->master_port, port);
  EXPECT_EQ(launcherFromEnvironment(), std::optional<std::string>(launcher));
}

TEST(LaunchDiscovery, NoLauncherMeansNoRank) {
  ScopedEnvironment env;
  env.set("MASTER_ADDR", "host");  // a master alone does not make a world
  EXPECT_FALSE(rankFromEnvironment().has_value());
  EXPECT_FALSE(launcherFromEnvironment().has_value());
}

TEST(LaunchDiscovery, ReadsOurOwnLauncher) {
  ScopedEnvironment env;
  env.set("BEHEMOTH_RANK", "5");
  env.set("BEHEMOTH_WORLD_SIZE", "8");
  env.set("BEHEMOTH_LOCAL_RANK", "1");
  env.set("BEHEMOTH_LOCAL_WORLD_SIZE", "4");
  env.set("BEHEMOTH_MASTER_ADDR", "10.0.0.1");
  env.set("BEHEMOTH_MASTER_PORT", "29500");
  env.set("MASTER_ADDR", "ignored-host");  // BEHEMOTH_MASTER_* wins
  expectRank(rankFromEnvironment(), 5, 8, 1, 4, "10.0.0.1", 29500, "behemoth");
}

TEST(LaunchDiscovery, OurLauncherWinsOverAnEnclosingMpirun) {
  ScopedEnvironment env;
  env.set("OMPI_COMM_WORLD_RANK", "0");
  env.set("OMPI_COMM_WORLD_SIZE", "1");
  env.set("OMPI_COMM_WORLD_LOCAL_RANK", "0");
  env.set("OMPI_COMM_WORLD_LOCAL_SIZE", "1");
  env.set("BEHEMOTH_RANK", "2");
  env.set("BEHEMOTH_WORLD_SIZE", "3");
  env.set("MASTER_ADDR", "127.0.0.1");
  env.set("MASTER_PORT", "1234");
  // Local fields left out by hand: a single node is assumed.
  expectRank(rankFromEnvironment(), 2, 3, 2, 3, "127.0.0.1", 1234, "behemoth");
}

TEST(LaunchDiscovery, ReadsOpenMpi) {
  ScopedEnvironment env;
  env.set("OMPI_COMM_WORLD_RANK", "3");
  env.set("OMPI_COMM_WORLD_SIZE", "4");
  env.set("OMPI_COMM_WORLD_LOCAL_RANK", "1");
  env.set("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
  env.set("MASTER_ADDR", "node7");
  env.set("MASTER_PORT", "29600");
  expectRank(rankFromEnvironment(), 3, 4, 1, 2, "node7", 29600, "openmpi");
}

TEST(LaunchDiscovery, MpirunWithoutMasterTellsWhatToSet) {
  ScopedEnvironment env;
  env.set("OMPI_COMM_WORLD_RANK", "0");
  env.set("OMPI_COMM_WORLD_SIZE", "2");
  env.set("OMPI_COMM_WORLD_LOCAL_RANK", "0");
  env.set("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
  const std::string error = discoveryError();
  EXPECT_NE(error.find("no rendezvous address and port for rank 0 under mpirun (OpenMPI)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("MASTER_ADDR and MASTER_PORT"), std::string::npos) << error;
  EXPECT_NE(error.find("--master HOST:PORT"), std::string::npos) << error;

  env.set("MASTER_ADDR", "node1");
  const std::string port_only = discoveryError();
  EXPECT_NE(port_only.find("no rendezvous port for rank 0"), std::string::npos) << port_only;

  // --master supplies both and takes precedence over the environment.
  expectRank(rankFromEnvironment(MasterAddress{"head", 4000}), 0, 2, 0, 2, "head", 4000, "openmpi");
}

TEST(LaunchDiscovery, ReadsMpichAndIntelMpi) {
  ScopedEnvironment env;
  env.set("PMI_RANK", "6");
  env.set("PMI_SIZE", "8");
  env.set("MPI_LOCALRANKID", "2");
  env.set("MPI_LOCALNRANKS", "4");
  env.set("MASTER_ADDR", "10.9.8.7");
  env.set("MASTER_PORT", "29501");
  expectRank(rankFromEnvironment(), 6, 8, 2, 4, "10.9.8.7", 29501, "mpich");
}

TEST(LaunchDiscovery, IncompleteMpichEnvironmentNamesTheMissingVariable) {
  ScopedEnvironment env;
  env.set("PMI_RANK", "1");
  env.set("PMI_SIZE", "2");
  env.set("MASTER_ADDR", "h");
  env.set("MASTER_PORT", "1");
  EXPECT_EQ(discoveryError(), "PMI_RANK is set but MPI_LOCALRANKID is not; the launcher's environment is incomplete");
}

TEST(LaunchDiscovery, ReadsSlurmWithTasksPerNodeAndDerivedMaster) {
  ScopedEnvironment env;
  env.set("SLURM_PROCID", "5");
  env.set("SLURM_NTASKS", "8");
  env.set("SLURM_LOCALID", "1");
  env.set("SLURM_NTASKS_PER_NODE", "4");
  env.set("SLURM_JOB_NODELIST", "gpu[07-08]");
  env.set("SLURM_JOB_ID", "123456");
  // 123456 mod 15000 = 3456.
  expectRank(rankFromEnvironment(), 5, 8, 1, 4, "gpu07", 18456, "slurm");
}

TEST(LaunchDiscovery, SlurmDerivesLocalWorldFromTasksPerNodeAndPrefersTheStepNodes) {
  ScopedEnvironment env;
  env.set("SLURM_PROCID", "4");
  env.set("SLURM_NTASKS", "5");
  env.set("SLURM_LOCALID", "0");
  env.set("SLURM_TASKS_PER_NODE", "2(x2),1");
  env.set("SLURM_NODEID", "2");
  env.set("SLURM_JOB_NODELIST", "a[1-9]");
  env.set("SLURM_STEP_NODELIST", "a[3-5]");
  env.set("MASTER_PORT", "2222");  // an explicit port beats the derived one; the address still comes from Slurm
  expectRank(rankFromEnvironment(), 4, 5, 0, 1, "a3", 2222, "slurm");
}

TEST(LaunchDiscovery, SlurmFallsBackToTasksOverNodes) {
  ScopedEnvironment env;
  env.set("SLURM_PROCID", "3");
  env.set("SLURM_NTASKS", "6");
  env.set("SLURM_LOCALID", "0");
  env.set("SLURM_NNODES", "2");
  env.set("SLURM_JOB_NODELIST", "solo");
  env.set("SLURM_JOB_ID", "7");
  expectRank(rankFromEnvironment(), 3, 6, 0, 3, "solo", 15007, "slurm");

  env.set("SLURM_NNODES", "4");  // 6 tasks do not split evenly over 4 nodes
  EXPECT_NE(discoveryError().find("cannot tell how many tasks run on this node"), std::string::npos);
}

TEST(LaunchDiscovery, MalformedValuesNameTheirVariable) {
  ScopedEnvironment env;
  env.set("BEHEMOTH_RANK", "one");
  EXPECT_EQ(discoveryError(), "BEHEMOTH_RANK: expected a non-negative integer, got 'one'");

  env.set("BEHEMOTH_RANK", "1");
  EXPECT_EQ(discoveryError(), "BEHEMOTH_RANK is set but BEHEMOTH_WORLD_SIZE is not; the launcher's environment is "
                              "incomplete");

  env.set("BEHEMOTH_WORLD_SIZE", "1");
  EXPECT_EQ(discoveryError(), "rank 1 is not below the world size 1 (behemoth environment)");

  env.set("BEHEMOTH_WORLD_SIZE", "2");
  env.set("BEHEMOTH_LOCAL_RANK", "1");
  env.set("BEHEMOTH_LOCAL_WORLD_SIZE", "1");
  EXPECT_EQ(discoveryError(), "local rank 1 is not below the local world size 1 (behemoth environment)");

  env.set("BEHEMOTH_LOCAL_WORLD_SIZE", "2");
  env.set("MASTER_ADDR", "h");
  env.set("MASTER_PORT", "99999");
  EXPECT_EQ(discoveryError(), "MASTER_PORT: port must be in [1, 65535], got '99999'");
}

TEST(LaunchParseMaster, AcceptsHostsAddressesAndBracketedIpv6) {
  EXPECT_EQ(parseMaster("node01:29500"), (MasterAddress{"node01", 29500}));
  EXPECT_EQ(parseMaster("10.0.0.2:1"), (MasterAddress{"10.0.0.2", 1}));
  EXPECT_EQ(parseMaster("[::1]:65535"), (MasterAddress{"::1", 65535}));
}

TEST(LaunchParseMaster, RejectsMalformedText) {
  EXPECT_EQ(parseMasterError("abc"), "--master: expected HOST:PORT, got 'abc'");
  EXPECT_EQ(parseMasterError(":29500"), "--master: expected HOST:PORT, got ':29500'");
  EXPECT_EQ(parseMasterError("host:"), "--master: expected HOST:PORT, got 'host:'");
  EXPECT_EQ(parseMasterError("host:http"), "--master: port must be a number, got 'http' in 'host:http'");
  EXPECT_EQ(parseMasterError("host:0"), "--master: port must be in [1, 65535], got 0 in 'host:0'");
  EXPECT_EQ(parseMasterError("host:65536"), "--master: port must be in [1, 65535], got 65536 in 'host:65536'");
  EXPECT_EQ(parseMasterError("host:-5"), "--master: port must be in [1, 65535], got -5 in 'host:-5'");
  EXPECT_EQ(parseMasterError("fe80::1:29500"),
            "--master: write an IPv6 address in brackets, as [ADDRESS]:PORT, got 'fe80::1:29500'");
  EXPECT_EQ(parseMasterError("[]:29500"), "--master: expected HOST:PORT, got '[]:29500'");
}

TEST(LaunchSlurmSyntax, FirstHostOfNodelist) {
  EXPECT_EQ(firstHostOfNodelist("node17"), "node17");
  EXPECT_EQ(firstHostOfNodelist("node[01-04]"), "node01");
  EXPECT_EQ(firstHostOfNodelist("node[07,01-04],gpu3"), "node07");
  EXPECT_EQ(firstHostOfNodelist("gpu3,node[01-04]"), "gpu3");
  EXPECT_EQ(firstHostOfNodelist("rack[2-3]-node[005-008]"), "rack2-node005");
  EXPECT_THROW(firstHostOfNodelist(""), std::invalid_argument);
  EXPECT_THROW(firstHostOfNodelist("node[01-04"), std::invalid_argument);
  EXPECT_THROW(firstHostOfNodelist("node01]"), std::invalid_argument);
  EXPECT_THROW(firstHostOfNodelist("node[]"), std::invalid_argument);
}

TEST(LaunchSlurmSyntax, TasksOnNode) {
  EXPECT_EQ(tasksOnNode("4", 0), 4);
  EXPECT_EQ(tasksOnNode("2(x3),1", 0), 2);
  EXPECT_EQ(tasksOnNode("2(x3),1", 2), 2);
  EXPECT_EQ(tasksOnNode("2(x3),1", 3), 1);
  EXPECT_EQ(tasksOnNode("1,3(x2)", 2), 3);
  EXPECT_THROW(tasksOnNode("2(x3),1", 4), std::invalid_argument);
  EXPECT_THROW(tasksOnNode("2(3)", 0), std::invalid_argument);
  EXPECT_THROW(tasksOnNode("x", 0), std::invalid_argument);
}

TEST(LaunchSlurmSyntax, PortFromJobIdStaysBelowTheEphemeralRange) {
  EXPECT_EQ(slurmPortFromJobId(0), 15000);
  EXPECT_EQ(slurmPortFromJobId(14999), 29999);
  EXPECT_EQ(slurmPortFromJobId(15000), 15000);
  EXPECT_NE(slurmPortFromJobId(1001), slurmPortFromJobId(1002));
}

}  // namespace
}  // namespace behemoth
