// The closed-form bubble of each schedule as a fraction of the step's pipeline time, for balanced
// stages and no transfer time: what `behemoth trace` prints next to the measured bubble and what
// the simulator reproduces exactly with unit costs (docs/pipeline.md). No LibTorch.
#pragma once

#include "memory/training_layout.h"
#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {

// p = stages, m = micro-batches, v = chunks per rank:
//   gpipe, 1f1b   (p-1) / (m + p-1)      fill and drain of p-1 forward+backward slots
//   interleaved   (p-1) / (v m + p-1)    the same p-1 slots, each 1/v as long
//   zero_bubble   (p-1) / (3 m + p-1)    ZB-H1 with F = B = W: p-1 idle units of 3 m busy ones
// (memory/time_model.h's bubbleFraction is the same idle time over the compute time instead.)
double theoreticalBubbleFraction(PipelineSchedule schedule, const PipelineShape& shape);

}  // namespace behemoth
