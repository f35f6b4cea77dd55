// The variables our launcher sets for every worker; rankFromEnvironment() reads them back.
#pragma once

namespace behemoth::launch_env {

inline constexpr const char* kRank = "BEHEMOTH_RANK";
inline constexpr const char* kWorldSize = "BEHEMOTH_WORLD_SIZE";
inline constexpr const char* kLocalRank = "BEHEMOTH_LOCAL_RANK";
inline constexpr const char* kLocalWorldSize = "BEHEMOTH_LOCAL_WORLD_SIZE";
inline constexpr const char* kMasterAddr = "BEHEMOTH_MASTER_ADDR";
inline constexpr const char* kMasterPort = "BEHEMOTH_MASTER_PORT";
// How many times `behemoth run --max-restarts` restarted the job before this start (0: the first).
inline constexpr const char* kRestart = "BEHEMOTH_RESTART";

}  // namespace behemoth::launch_env
