// Loads one checkpoint into N forked ranks through the Trainer (TrainerOptions::resume_from), the
// way `behemoth run --resume` does, and prints one JSON line with the Trainer's own figures:
// load_s (the slowest rank's load: index, checks, reading and checking every slice it needs) and
// bytes_read (all ranks together). The model is built first and not timed. Used by
// benchmarks/checkpoint_vs_torch.py.
//
//   build/bin/checkpoint_load_bench RUN/project.json RUN/checkpoints/step-0000001 [ranks]
//
// The project is the one the run wrote (already resolved); a different rank count or layout may
// be given with a project edited accordingly. Ranks rendezvous through a FileStore in a temporary
// directory; each one uses one math thread, as in `behemoth run`.
#include <ATen/Parallel.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "backend/project/project.h"
#include "backend/train/trainer.h"
#include "parallel/world.h"

namespace {

int runRank(const behemoth::Project& project, const behemoth::WorldInfo& info, const std::string& step_dir) {
  try {
    at::set_num_threads(1);
    behemoth::ProcessWorld world(info, project.plan);
    behemoth::TrainerOptions options;
    options.resume_from = std::filesystem::path(step_dir);
    behemoth::Trainer trainer(project, world, options);
    if (info.rank == 0) {
      std::printf("{\"load_s\":%.9f,\"bytes_read\":%lld,\"step\":%lld,\"ranks\":%d}\n", trainer.resumeSeconds(),
                  static_cast<long long>(trainer.resumeBytesRead()), static_cast<long long>(trainer.startStep()),
                  info.world_size);
      std::fflush(stdout);
    }
    world.world().barrier();
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "checkpoint_load_bench: rank %d: %s\n", info.rank, error.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PROJECT_JSON STEP_DIR [ranks]\n", argv[0]);
    return 2;
  }
  const std::string step_dir = argv[2];
  const int ranks = argc > 3 ? std::atoi(argv[3]) : 2;
  behemoth::Project project;
  try {
    project = behemoth::loadProject(argv[1], {"devices.count=" + std::to_string(ranks)});
    behemoth::validateForWorld(project, ranks);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "checkpoint_load_bench: %s\n", error.what());
    return 2;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "checkpoint-load-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "checkpoint_load_bench: mkdtemp failed for %s\n", pattern.c_str());
    return 1;
  }
  const std::filesystem::path store_dir = pattern;
  std::fflush(nullptr);
  std::vector<pid_t> children;
  for (int rank = 0; rank < ranks; ++rank) {
    behemoth::WorldInfo info;
    info.rank = rank;
    info.world_size = ranks;
    info.local_rank = rank;
    info.local_world_size = ranks;
    info.store_path = (store_dir / "store").string();
    const pid_t pid = fork();
    if (pid < 0) {
      std::fprintf(stderr, "checkpoint_load_bench: fork failed for rank %d\n", rank);
      break;
    }
    if (pid == 0) _exit(runRank(project, info, step_dir));
    children.push_back(pid);
  }
  int failed = static_cast<int>(children.size()) != ranks ? 1 : 0;
  for (const pid_t pid : children) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
  }
  std::error_code ignored;
  std::filesystem::remove_all(store_dir, ignored);
  return failed;
}
