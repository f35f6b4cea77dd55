#include "tests/support/parity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/metrics/event_sink.h"
#include "backend/train/trainer.h"
#include "parallel/world.h"
#include "tests/support/multiprocess.h"

namespace behemoth {

Project tinyProject(Arch arch) {
  Project project;
  project.name = "parity";
  project.model.arch = arch;
  project.model.n_layer = 2;
  project.model.n_head = 4;
  project.model.d_model = 32;
  project.model.seq_len = 16;
  project.model.vocab_size = 256;
  if (arch == Arch::llama) {
    project.model.n_kv_head = 2;
    project.model.tie_embeddings = false;
  }
  project.data.global_batch_size = 8;
  project.optimizer.lr = 3e-3;
  project.optimizer.warmup_steps = 2;
  project.train.steps = 4;
  project.train.log_every = 1;
  project.train.seed = 1234;
  return project;
}

ParityRun trainOnRanks(Project project, int nproc) {
  project.plan.dp = -1;
  validateForWorld(project, nproc);
  const RankRun run = runOnRanks(nproc, [&project](const WorldInfo& info) {
    Project local = project;
    local.train.out_dir = rankResultPath(info, "out");
    ProcessWorld world(info, local.plan);
    Trainer trainer(local, world);
    std::vector<nlohmann::json> events;
    CallbackSink capture([&events](const nlohmann::json& event) {
      if (event.value("event", "") == "step") events.push_back(event);
    });
    const TrainOutcome outcome = trainer.run(info.rank == 0 ? &capture : nullptr);
    if (info.rank != 0) return;
    saveRankDoubles(info, "losses", outcome.losses);
    saveRankText(info, "events", nlohmann::json(events).dump());
    std::string names;
    for (const auto& [name, tensor] : trainer.fullParameters()) {
      saveRankTensor(info, "param." + name, tensor);
      names += name + "\n";
    }
    saveRankText(info, "names", names);
  });
  ParityRun result;
  if (!expectAllRanksOk(run)) return result;
  result.losses = run.loadDoubles(0, "losses");
  for (const auto& event : nlohmann::json::parse(run.loadText(0, "events"))) result.step_events.push_back(event);
  std::istringstream names(run.loadText(0, "names"));
  for (std::string name; std::getline(names, name);) {
    result.parameters.emplace_back(name, run.loadTensor(0, "param." + name));
  }
  return result;
}

void expectSameTraining(const ParityRun& reference, const ParityRun& candidate, double rel) {
  ASSERT_FALSE(reference.losses.empty()) << "the reference run produced no losses";
  ASSERT_EQ(reference.losses.size(), candidate.losses.size());
  for (std::size_t step = 0; step < reference.losses.size(); ++step) {
    const double a = reference.losses[step];
    const double b = candidate.losses[step];
    EXPECT_LE(std::abs(a - b), rel * std::abs(a)) << "loss of step " << step << ": " << a << " vs " << b;
  }
  ASSERT_EQ(reference.parameters.size(), candidate.parameters.size());
  for (std::size_t k = 0; k < reference.parameters.size(); ++k) {
    const auto& [name, a] = reference.parameters[k];
    const auto& [other_name, b] = candidate.parameters[k];
    ASSERT_EQ(name, other_name);
    ASSERT_EQ(a.sizes(), b.sizes()) << name;
    const double scale = a.abs().max().item<double>();
    const double diff = (a - b).abs().max().item<double>();
    EXPECT_LE(diff, rel * scale) << "parameter " << name << ": max |diff| " << diff << " vs max |value| " << scale;
  }
}

}  // namespace behemoth
