// How a worker process finds its place in the job from the environment its launcher gave it:
// our own launcher, OpenMPI's mpirun, MPICH / Intel MPI (hydra) or Slurm's srun.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "backend/launch/launched_rank.h"

namespace behemoth {

using MasterAddress = std::pair<std::string, int>;  // host, port

// Reads the first flavour present, in this order: BEHEMOTH_* (our launcher); OpenMPI
// (OMPI_COMM_WORLD_RANK/_SIZE/_LOCAL_RANK/_LOCAL_SIZE); MPICH / Intel MPI (PMI_RANK, PMI_SIZE,
// MPI_LOCALRANKID, MPI_LOCALNRANKS); Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and
// SLURM_NTASKS_PER_NODE, else SLURM_TASKS_PER_NODE at SLURM_NODEID, else NTASKS / NNODES).
// The master is `master_override` (from --master) when given, else BEHEMOTH_MASTER_ADDR/PORT, else
// MASTER_ADDR/MASTER_PORT, else under Slurm the first host of SLURM_STEP_NODELIST (or
// SLURM_JOB_NODELIST) and a port derived from SLURM_JOB_ID.
// Returns nullopt when no flavour's rank variable is set. Throws std::runtime_error naming the
// variable when one is malformed or inconsistent, or when no master can be found.
std::optional<LaunchedRank> rankFromEnvironment(const std::optional<MasterAddress>& master_override = std::nullopt);

// Which launcher started this process, by the first rank variable set, in the order above:
// "behemoth", "openmpi", "mpich" or "slurm"; nullopt when none is. Reads nothing else.
std::optional<std::string> launcherFromEnvironment();

// Parses "HOST:PORT" (or "[IPv6]:PORT"). Throws std::invalid_argument such as
// "--master: expected HOST:PORT, got 'abc'".
MasterAddress parseMaster(const std::string& text);

// The first host of a Slurm node list: "node[01-04,07],gpu3" -> "node01", "a[2-3]-b[5-6]" -> "a2-b5".
// Throws std::invalid_argument for an empty or unbalanced list.
std::string firstHostOfNodelist(const std::string& nodelist);

// The number of tasks on node `node_id` from Slurm's SLURM_TASKS_PER_NODE syntax: "2(x3),1" means
// nodes 0-2 run 2 tasks and node 3 runs 1. Throws std::invalid_argument when malformed or too short.
int tasksOnNode(const std::string& tasks_per_node, int node_id);

// The rendezvous port every rank of a Slurm job derives alike when none is given: in [15000, 30000),
// below Linux's ephemeral range so that it does not collide with outgoing connections, and
// different for jobs whose ids are close (often sharing nodes).
int slurmPortFromJobId(long long job_id);

}  // namespace behemoth
