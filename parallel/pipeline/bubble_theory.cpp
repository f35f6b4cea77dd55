#include "parallel/pipeline/bubble_theory.h"

namespace behemoth {

double theoreticalBubbleFraction(PipelineSchedule schedule, const PipelineShape& shape) {
  const double fill = shape.stages - 1;
  const double m = shape.micro_batches;
  switch (schedule) {
    case PipelineSchedule::gpipe:
    case PipelineSchedule::one_f_one_b: return fill / (m + fill);
    case PipelineSchedule::interleaved: return fill / (shape.virtual_stages * m + fill);
    case PipelineSchedule::zero_bubble: return fill / (3.0 * m + fill);
  }
  return fill / (m + fill);
}

}  // namespace behemoth
