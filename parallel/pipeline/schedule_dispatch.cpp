#include <stdexcept>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {

PipelineSchedulePlan buildPipelineSchedule(PipelineSchedule schedule, const PipelineShape& shape) {
  checkPipelineShape(schedule, shape);
  switch (schedule) {
    case PipelineSchedule::gpipe: return gpipeSchedule(shape);
    case PipelineSchedule::one_f_one_b: return oneFOneBSchedule(shape);
    case PipelineSchedule::interleaved: return interleavedSchedule(shape);
    case PipelineSchedule::zero_bubble: return zeroBubbleSchedule(shape);
  }
  throw std::invalid_argument("parallel.pp_schedule: unknown schedule");
}

}  // namespace behemoth
