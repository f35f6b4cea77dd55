// Loading a Hugging Face model's weights into whatever layout this run has: every rank fills the
// slices of the parameters it holds (checkpoint_parts.h: tensor-parallel boxes, ZeRO's flat
// ranges, a pipeline stage's tensors) straight from the stored tensors, transposing GPT-2's Conv1D
// weights and widening BF16/F16 on the way. The files are memory-mapped, so a rank touches only
// the pages of its own slices.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backend/hf/hf_checkpoint.h"
#include "backend/train/checkpoint_parts.h"

namespace behemoth {

struct HfImportOptions {
  // fp16 training on a CPU keeps fp32 working values rounded to fp16 (docs/zero.md): the working
  // ("model") parts get the rounded values, the fp32 masters the stored ones.
  bool round_working_to_half = false;
};

// Fills every "model/..." and "master/..." part; optimizer moments stay as they are (zero).
// Returns the bytes of stored tensor data this rank read.
std::int64_t importHfWeights(const HfCheckpoint& checkpoint, const std::vector<CheckpointPart>& parts,
                             const HfImportOptions& options = {});

// One process holding whole parameters (the model as built, no layout): each named parameter is
// filled whole. For tools and tests that run a model outside the trainer.
std::int64_t importHfWeightsIntoParameters(const HfCheckpoint& checkpoint,
                                           const std::vector<std::pair<std::string, at::Tensor>>& parameters);

}  // namespace behemoth
