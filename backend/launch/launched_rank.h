// Where one worker process sits in the job: its rank, the world around it and the rendezvous
// address. Filled by rankFromEnvironment() from whatever started the process (our launcher,
// mpirun, srun). Plain data and torch-free; the engine turns it into its process world.
#pragma once

#include <string>

namespace behemoth {

struct LaunchedRank {
  int rank = 0;              // global rank, 0 .. world_size-1
  int world_size = 1;
  int local_rank = 0;        // rank among the workers on this node (picks the device)
  int local_world_size = 1;  // workers on this node
  std::string master_addr;   // host of rank 0's rendezvous store
  int master_port = 0;
};

}  // namespace behemoth
