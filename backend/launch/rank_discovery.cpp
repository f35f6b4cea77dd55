#include "backend/launch/rank_discovery.h"

#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "backend/launch/environment_names.h"

namespace behemoth {
namespace {

std::optional<std::string> environmentValue(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

int parseNonNegative(std::string_view name, const std::string& text) {
  int value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0) {
    throw std::runtime_error(std::string(name) + ": expected a non-negative integer, got '" + text + "'");
  }
  return value;
}

// The integer in `name`; `flavour_variable` names the variable that said this flavour is present.
int requiredInteger(const char* name, const char* flavour_variable) {
  const std::optional<std::string> text = environmentValue(name);
  if (!text) {
    throw std::runtime_error(std::string(flavour_variable) + " is set but " + name +
                             " is not; the launcher's environment is incomplete");
  }
  return parseNonNegative(name, *text);
}

std::optional<int> optionalInteger(const char* name) {
  const std::optional<std::string> text = environmentValue(name);
  if (!text) {
    return std::nullopt;
  }
  return parseNonNegative(name, *text);
}

// Slurm does not always say how many tasks share this node; derive it from what it does say.
int slurmLocalWorldSize(int world_size) {
  if (const std::optional<int> per_node = optionalInteger("SLURM_NTASKS_PER_NODE")) {
    return *per_node;
  }
  const std::optional<std::string> tasks_per_node = environmentValue("SLURM_TASKS_PER_NODE");
  const std::optional<int> node_id = optionalInteger("SLURM_NODEID");
  if (tasks_per_node && node_id) {
    try {
      return tasksOnNode(*tasks_per_node, *node_id);
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error(std::string("SLURM_TASKS_PER_NODE: ") + error.what());
    }
  }
  const std::optional<int> nodes = optionalInteger("SLURM_NNODES");
  if (nodes && *nodes > 0 && world_size % *nodes == 0) {
    return world_size / *nodes;
  }
  throw std::runtime_error(
      "Slurm: cannot tell how many tasks run on this node: set SLURM_NTASKS_PER_NODE (srun "
      "--ntasks-per-node) or provide SLURM_TASKS_PER_NODE and SLURM_NODEID");
}

// A rank as read, with the launcher it came from (for messages and the Slurm master fallback).
struct Discovered {
  LaunchedRank rank;
  std::string launcher;
};

// The rank fields of the first flavour present, without the master.
std::optional<Discovered> rankFields() {
  Discovered discovered;
  LaunchedRank& found = discovered.rank;
  std::string& launcher = discovered.launcher;
  if (const std::optional<int> rank = optionalInteger(launch_env::kRank)) {
    launcher = "behemoth";
    found.rank = *rank;
    found.world_size = requiredInteger(launch_env::kWorldSize, launch_env::kRank);
    // Set by hand for a single node, the local fields may be left out.
    found.local_rank = optionalInteger(launch_env::kLocalRank).value_or(found.rank);
    found.local_world_size = optionalInteger(launch_env::kLocalWorldSize).value_or(found.world_size);
  } else if (const std::optional<int> rank = optionalInteger("OMPI_COMM_WORLD_RANK")) {
    launcher = "openmpi";
    found.rank = *rank;
    found.world_size = requiredInteger("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK");
    found.local_rank = requiredInteger("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_RANK");
    found.local_world_size = requiredInteger("OMPI_COMM_WORLD_LOCAL_SIZE", "OMPI_COMM_WORLD_RANK");
  } else if (const std::optional<int> rank = optionalInteger("PMI_RANK")) {
    launcher = "mpich";
    found.rank = *rank;
    found.world_size = requiredInteger("PMI_SIZE", "PMI_RANK");
    found.local_rank = requiredInteger("MPI_LOCALRANKID", "PMI_RANK");
    found.local_world_size = requiredInteger("MPI_LOCALNRANKS", "PMI_RANK");
  } else if (const std::optional<int> rank = optionalInteger("SLURM_PROCID")) {
    launcher = "slurm";
    found.rank = *rank;
    found.world_size = requiredInteger("SLURM_NTASKS", "SLURM_PROCID");
    found.local_rank = requiredInteger("SLURM_LOCALID", "SLURM_PROCID");
    found.local_world_size = slurmLocalWorldSize(found.world_size);
  } else {
    return std::nullopt;
  }
  return discovered;
}

void checkConsistent(const LaunchedRank& found, const std::string& launcher) {
  const std::string where = "(" + launcher + " environment)";
  if (found.world_size < 1) {
    throw std::runtime_error("world size must be at least 1, got " + std::to_string(found.world_size) + " " + where);
  }
  if (found.rank >= found.world_size) {
    throw std::runtime_error("rank " + std::to_string(found.rank) + " is not below the world size " +
                             std::to_string(found.world_size) + " " + where);
  }
  if (found.local_world_size < 1 || found.local_world_size > found.world_size) {
    throw std::runtime_error("local world size " + std::to_string(found.local_world_size) + " must be in [1, " +
                             std::to_string(found.world_size) + "] " + where);
  }
  if (found.local_rank >= found.local_world_size) {
    throw std::runtime_error("local rank " + std::to_string(found.local_rank) + " is not below the local world size " +
                             std::to_string(found.local_world_size) + " " + where);
  }
}

int parsePort(std::string_view name, const std::string& text) {
  const int port = parseNonNegative(name, text);
  if (port < 1 || port > 65535) {
    throw std::runtime_error(std::string(name) + ": port must be in [1, 65535], got '" + text + "'");
  }
  return port;
}

std::string launcherDescription(const std::string& launcher) {
  if (launcher == "openmpi") return "mpirun (OpenMPI)";
  if (launcher == "mpich") return "mpirun / mpiexec (MPICH or Intel MPI)";
  if (launcher == "slurm") return "srun (Slurm)";
  return "the behemoth launcher";
}

// Address and port are looked up independently, each from the first source that has it.
void resolveMaster(LaunchedRank& found, const std::string& launcher,
                   const std::optional<MasterAddress>& master_override) {
  std::optional<std::string> address;
  std::optional<int> port;
  if (master_override) {
    address = master_override->first;
    port = master_override->second;
  }
  for (const auto& [address_name, port_name] : {std::pair{launch_env::kMasterAddr, launch_env::kMasterPort},
                                                std::pair{"MASTER_ADDR", "MASTER_PORT"}}) {
    if (!address) {
      address = environmentValue(address_name);
      if (address && address->empty()) {
        throw std::runtime_error(std::string(address_name) + " is set but empty");
      }
    }
    if (!port) {
      if (const std::optional<std::string> text = environmentValue(port_name)) {
        port = parsePort(port_name, *text);
      }
    }
  }
  if (launcher == "slurm") {
    if (!address) {
      std::optional<std::string> nodelist = environmentValue("SLURM_STEP_NODELIST");
      if (!nodelist) nodelist = environmentValue("SLURM_JOB_NODELIST");
      if (nodelist) {
        try {
          address = firstHostOfNodelist(*nodelist);
        } catch (const std::invalid_argument& error) {
          throw std::runtime_error(std::string("SLURM_JOB_NODELIST: ") + error.what());
        }
      }
    }
    if (!port) {
      if (const std::optional<std::string> job_id = environmentValue("SLURM_JOB_ID")) {
        port = slurmPortFromJobId(parseNonNegative("SLURM_JOB_ID", *job_id));
      }
    }
  }
  if (!address || !port) {
    const std::string missing = !address && !port ? "address and port" : (!address ? "address" : "port");
    throw std::runtime_error("no rendezvous " + missing + " for rank " + std::to_string(found.rank) + " under " +
                             launcherDescription(launcher) +
                             ": set MASTER_ADDR and MASTER_PORT (the host of rank 0 and a free port on it) or pass "
                             "--master HOST:PORT");
  }
  found.master_addr = *address;
  found.master_port = *port;
}

}  // namespace

std::optional<LaunchedRank> rankFromEnvironment(const std::optional<MasterAddress>& master_override) {
  std::optional<Discovered> found = rankFields();
  if (!found) {
    return std::nullopt;
  }
  checkConsistent(found->rank, found->launcher);
  resolveMaster(found->rank, found->launcher, master_override);
  return found->rank;
}

std::optional<std::string> launcherFromEnvironment() {
  for (const auto& [variable, launcher] : {std::pair{launch_env::kRank, "behemoth"},
                                           std::pair{"OMPI_COMM_WORLD_RANK", "openmpi"},
                                           std::pair{"PMI_RANK", "mpich"}, std::pair{"SLURM_PROCID", "slurm"}}) {
    if (environmentValue(variable)) {
      return std::string(launcher);
    }
  }
  return std::nullopt;
}

MasterAddress parseMaster(const std::string& text) {
  const auto malformed = [&text]() {
    return std::invalid_argument("--master: expected HOST:PORT, got '" + text + "'");
  };
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw malformed();
  }
  std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  if (host.front() == '[') {
    // "[::1]:29500": the brackets only keep the address's colons apart from the port's.
    if (host.size() < 3 || host.back() != ']') throw malformed();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    throw std::invalid_argument("--master: write an IPv6 address in brackets, as [ADDRESS]:PORT, got '" + text + "'");
  }
  int port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size()) {
    throw std::invalid_argument("--master: port must be a number, got '" + port_text + "' in '" + text + "'");
  }
  if (port < 1 || port > 65535) {
    throw std::invalid_argument("--master: port must be in [1, 65535], got " + port_text + " in '" + text + "'");
  }
  return {host, port};
}

}  // namespace behemoth
