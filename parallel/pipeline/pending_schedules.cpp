// Placeholder until the interleaved and zero-bubble builders land (work in progress on #12): a
// project asking for them is refused by name instead of running something else.
#include <stdexcept>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {

PipelineSchedulePlan interleavedSchedule(const PipelineShape&) {
  throw std::invalid_argument("parallel.pp_schedule: \"interleaved\" is not available in this build yet");
}

PipelineSchedulePlan zeroBubbleSchedule(const PipelineShape&) {
  throw std::invalid_argument("parallel.pp_schedule: \"zero_bubble\" is not available in this build yet");
}

}  // namespace behemoth
