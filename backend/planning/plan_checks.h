// What `behemoth plan` requires of a project: shapes every axis can split. Planning accepts any
// plan the project describes, including strategies this build cannot run yet and devices that are
// not here, so availability is not checked (validateForWorld does that for runs).
#pragma once

#include "backend/project/project.h"

namespace behemoth {

// The plan must be resolved (plan.dp != -1). Throws std::invalid_argument naming the field.
void checkPlanShapes(const Project& project);

// The sp axis's shapes for parallel.sp_mode (docs/long-context.md): Ulysses needs the query and
// key/value heads divisible by tp x sp; ring needs model.seq_len divisible by 2 x sp (x tp with
// Megatron-SP), two zigzag chunks per rank. Part of checkPlanShapes; throws naming the field.
void checkSequenceSplit(const Project& project);

}  // namespace behemoth
