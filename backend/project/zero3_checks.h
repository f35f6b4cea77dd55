// ZeRO-3's chunk and tier keys checked before launch (docs/zero3.md, docs/project-file.md): the
// keys only stage 3 reads, what stage 3 cannot combine with, the tier fractions, a device budget
// that cannot hold the widest stage's gathered chunks, and a disk tier without a writable
// directory with the space the planner says it needs. Each a one-line std::invalid_argument
// naming the field and the figure.
#pragma once

#include "backend/project/project.h"

namespace behemoth {

// The project's plan must be resolved (validateForWorld calls it last).
void checkZeroThree(const Project& project);

}  // namespace behemoth
