// The training loop every layout runs: the same global batch at every step, split over dp ranks and
// micro-batches; AdamW with warmup + cosine; clipping by the global gradient norm; fp32 or bf16
// with fp32 master weights; evaluation on the held-out split; metrics as events.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/project/project.h"

namespace behemoth {

class ProcessWorld;
class Tokenizer;
class EventSink;
class LanguageModel;

struct TrainOutcome {
  std::vector<double> losses;                        // global-batch loss of every step
  std::vector<std::pair<int, double>> eval_losses;   // (step, held-out loss)
  double tokens_per_s = 0.0;                         // over the whole run
  std::int64_t model_state_bytes = 0;                // per-rank maximum
  std::int64_t peak_rss_bytes = 0;                   // per-rank maximum
  std::int64_t first_step = 0;  // the step the run started at (> 0 when resumed)
  bool stopped = false;         // a stop request (SIGINT/SIGTERM) ended it before train.steps
};

struct TrainerOptions {
  // Set: the trainer loads this checkpoint (a step directory, already resolved and checked by the
  // launcher) into whatever layout it runs, and continues from its step.
  std::optional<std::filesystem::path> resume_from;
  // Whether train.checkpoint_* are honoured (`behemoth run` sets it): a Trainer used directly, as
  // the parity tests do, writes nothing unless asked.
  bool write_checkpoints = false;
  // Set: the tokenizer to train with instead of opening project.data.tokenizer (tests train on
  // tokenizers of their own making).
  std::shared_ptr<const Tokenizer> tokenizer;
};

class Trainer {
 public:
  // `project` must be validated for the world (validateForWorld).
  Trainer(Project project, ProcessWorld& world, TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // The step training starts at: 0, or the resumed checkpoint's step.
  std::int64_t startStep() const;
  // One line naming the tokenizer and the tokens it made of the corpus (and their cache); the
  // tokens the batches are drawn from.
  std::string dataSummary() const;
  std::string tokenizerKind() const;
  std::int64_t tokenCount() const;
  // What the resumed checkpoint's state.json says about the layout that wrote it ("" when fresh).
  std::string resumedLayout() const;
  // The resume's load: the slowest rank's seconds and the bytes every rank read together (0 when fresh).
  double resumeSeconds() const;
  std::int64_t resumeBytesRead() const;

  // Trains up to train.steps steps (from startStep()), saving checkpoints as train.checkpoint_*
  // ask, and stops early, after a final checkpoint, when stopRequested() turns true on any rank. Step and eval events go to `sink` (rank 0 passes one; others nullptr).
  TrainOutcome run(EventSink* sink);

  // Every parameter at full size in fp32, by name (for parity checks and checkpoints). Under
  // tensor parallelism a collective over tp: every rank must call it.
  std::vector<std::pair<std::string, at::Tensor>> fullParameters() const;
  // Bytes of parameters, gradients, optimizer states and master weights this rank holds.
  std::int64_t modelStateBytes() const;
  // Parameters of the whole model; bytes of the working parameters this rank holds (its tp shards,
  // vocabulary padding included, and the replicated ones).
  std::int64_t parameterCount() const;
  std::int64_t localParameterBytes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace behemoth
