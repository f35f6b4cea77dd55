#include "backend/project/zero3_checks.h"

#include <sys/statvfs.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unistd.h>

#include "backend/planning/plan_inputs.h"
#include "memory/chunk_placement.h"
#include "memory/chunk_plan.h"

namespace behemoth {
namespace {

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument(message); }

constexpr double kMiB = 1024.0 * 1024.0;

std::string mib(double bytes) {
  char text[48];
  std::snprintf(text, sizeof text, "%.2f MiB", bytes / kMiB);
  return text;
}

std::string number(double value) {
  char text[48];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// Keys only ZeRO-3 reads that move state off the device: set with another stage they would
// silently do nothing. (chunk_mb is left alone: a project keeps it when it compares stages.)
void rejectChunkKeysWithoutStageThree(const Plan& plan) {
  const std::string stage = "needs parallel.zero 3 (it is " + std::to_string(plan.zero) + ")";
  const std::pair<const char*, double> values[] = {{"offload_param_fraction", plan.offload_param_fraction},
                                                   {"offload_optim_fraction", plan.offload_optim_fraction},
                                                   {"disk_optim_fraction", plan.disk_optim_fraction},
                                                   {"device_budget_mb", plan.device_budget_mb}};
  for (const auto& [field, value] : values) {
    if (value != 0.0) reject(std::string("parallel.") + field + ": " + number(value) + " " + stage);
  }
  if (plan.placement != "static") reject("parallel.placement: \"" + plan.placement + "\" " + stage);
  if (!plan.offload_dir.empty()) reject("parallel.offload_dir: \"" + plan.offload_dir + "\" " + stage);
}

void rejectNegative(const char* field, double value) {
  if (value < 0.0) reject(std::string("parallel.") + field + ": must be >= 0, got " + number(value));
}

// A file the disk tier can create in the directory, and the space its shards take on every rank
// of this machine (the launcher starts all of them here).
void checkOffloadDirectory(const Plan& plan, std::int64_t disk_bytes_per_rank, int ranks) {
  namespace fs = std::filesystem;
  if (plan.offload_dir.empty()) {
    reject("parallel.offload_dir: required when parallel.disk_optim_fraction is " + number(plan.disk_optim_fraction) +
           " (the disk tier's files live there)");
  }
  std::error_code error;
  if (!fs::is_directory(plan.offload_dir, error)) {
    reject("parallel.offload_dir: " + plan.offload_dir + " is not a directory");
  }
  const fs::path probe = fs::path(plan.offload_dir) / (".behemoth-write-probe-" + std::to_string(::getpid()));
  {
    std::ofstream file(probe);
    if (!file || !(file << 'x') || !file.flush()) {
      reject("parallel.offload_dir: " + plan.offload_dir + " is not writable (cannot create a file in it)");
    }
  }
  fs::remove(probe, error);
  struct statvfs space {};
  if (::statvfs(plan.offload_dir.c_str(), &space) != 0) {
    reject("parallel.offload_dir: cannot read the free space of " + plan.offload_dir);
  }
  const double free_bytes = static_cast<double>(space.f_bavail) * static_cast<double>(space.f_frsize);
  const double needed = static_cast<double>(disk_bytes_per_rank) * ranks;
  if (free_bytes < needed) {
    reject("parallel.offload_dir: " + plan.offload_dir + " has " + mib(free_bytes) + " free, the disk tier needs " +
           mib(needed) + " (" + mib(static_cast<double>(disk_bytes_per_rank)) + " on each of " +
           std::to_string(ranks) + " ranks)");
  }
}

// The gathered chunks of the widest stage and the persistent chunk must fit in the budget: a
// stage cannot run with less on the device however its shards are placed.
void checkDeviceBudget(const Plan& plan, const ChunkPlan& chunks) {
  const auto budget = static_cast<std::int64_t>(plan.device_budget_mb * kMiB);
  const std::int64_t gathered = chunks.widest_stage_gathered_bytes;
  if (budget >= gathered + chunks.persistent_gathered_bytes) return;
  reject("parallel.device_budget_mb: " + number(plan.device_budget_mb) + " MiB is below what stage '" +
         chunks.widest_stage + "' needs gathered at once (" + mib(static_cast<double>(gathered)) + " in " +
         std::to_string(chunks.max_gathered_chunks) + " chunks) plus the persistent chunk (" +
         mib(static_cast<double>(chunks.persistent_gathered_bytes)) + ")");
}

}  // namespace

void checkZeroThree(const Project& project) {
  const Plan& plan = project.plan;
  rejectNegative("chunk_mb", plan.chunk_mb);
  rejectNegative("device_budget_mb", plan.device_budget_mb);
  if (plan.prefetch < 0) reject("parallel.prefetch: must be >= 0, got " + std::to_string(plan.prefetch));
  if (plan.zero != 3) {
    rejectChunkKeysWithoutStageThree(plan);
    return;
  }
  if (plan.offload_optimizer) {
    reject("parallel.offload_optimizer: ZeRO-3 offloads per chunk; use parallel.offload_optim_fraction (1 = all "
           "optimizer shards on the host)");
  }
  // The fractions' own messages (range, o + d <= 1).
  staticPlacement(1, false, plan.offload_param_fraction, plan.offload_optim_fraction, plan.disk_optim_fraction);
  if (plan.placement == "auto" && plan.device_budget_mb <= 0.0) {
    reject("parallel.placement: \"auto\" places chunks under a budget; set parallel.device_budget_mb");
  }
  const ChunkPlan chunks = planChunks(describeModel(project.model), layoutFromProject(project));
  if (plan.device_budget_mb > 0.0) checkDeviceBudget(plan, chunks);
  if (plan.disk_optim_fraction > 0.0) {
    checkOffloadDirectory(plan, chunks.tier_bytes[static_cast<int>(Tier::disk)], plan.worldSize());
  }
}

}  // namespace behemoth
