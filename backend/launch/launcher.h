// Runs the workers of one node as child processes and watches them until they all finish or one
// fails. What `behemoth run --nproc N` does on each node.
#pragma once

#include "backend/launch/worker_spec.h"

namespace behemoth {

// Starts spec.nproc workers (global ranks node_rank*nproc .. +nproc-1) with BEHEMOTH_RANK,
// BEHEMOTH_WORLD_SIZE, BEHEMOTH_LOCAL_RANK, BEHEMOTH_LOCAL_WORLD_SIZE, BEHEMOTH_MASTER_ADDR and
// BEHEMOTH_MASTER_PORT added to the inherited environment, and hands every complete line of
// their stdout and stderr to the handlers (on the calling thread, in arrival order per stream).
//
// When a worker exits non-zero or dies by a signal, the others get SIGTERM, then SIGKILL after
// spec.shutdown_grace; their output is drained and the result names the first failing rank.
// SIGINT/SIGTERM sent to this process are forwarded to every worker, which then has
// spec.stop_grace to finish (a final checkpoint) before SIGKILL; a second one kills at once.
// Every worker is reaped before returning, together with anything it left running in its process
// group, also when a handler throws (the exception then propagates).
//
// Throws std::invalid_argument for a spec that cannot work, before any worker starts.
LaunchResult launchWorkers(const WorkerSpec& spec, const WorkerLineHandler& on_stdout_line,
                           const WorkerLineHandler& on_stderr_line);

}  // namespace behemoth
