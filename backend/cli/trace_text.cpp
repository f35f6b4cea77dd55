#include "backend/cli/trace_text.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "parallel/pipeline/bubble_theory.h"

namespace behemoth {
namespace {

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

char symbol(PipelineActionKind kind) {
  switch (kind) {
    case PipelineActionKind::forward: return 'F';
    case PipelineActionKind::backward: return 'B';
    case PipelineActionKind::backward_input: return 'b';
    case PipelineActionKind::backward_weight: return 'W';
    default: return '.';
  }
}

std::string theoryText(const TracedSchedule& traced) {
  const PipelineShape& s = traced.shape;
  const std::string p = std::to_string(s.stages);
  const std::string m = std::to_string(s.micro_batches);
  std::string formula;
  switch (traced.schedule) {
    case PipelineSchedule::gpipe:
    case PipelineSchedule::one_f_one_b: formula = "(p-1)/(m+p-1)"; break;
    case PipelineSchedule::interleaved: formula = "(p-1)/(v*m+p-1)"; break;
    case PipelineSchedule::zero_bubble: formula = "(p-1)/(3m+p-1)"; break;
  }
  return formula + " = " + fixed(theoreticalBubbleFraction(traced.schedule, s), 3);
}

}  // namespace

TracedSchedule tracedSchedule(const std::vector<StepTrace>& one_pipeline_step) {
  TracedSchedule traced;
  int highest_chunk = 0;
  bool split_backward = false;
  std::set<int> micro_batches;
  const StepTrace* first_stage = nullptr;
  for (const StepTrace& t : one_pipeline_step) {
    if (t.stage == 0) first_stage = &t;
    for (const TimedAction& a : t.actions) {
      highest_chunk = std::max(highest_chunk, a.action.chunk);
      if (a.action.kind == PipelineActionKind::backward_input) split_backward = true;
    }
  }
  bool forwards_first = true;
  if (first_stage != nullptr) {
    bool backward_seen = false;
    for (const TimedAction& a : first_stage->actions) {
      if (a.action.kind == PipelineActionKind::forward) {
        micro_batches.insert(a.action.micro_batch);
        if (backward_seen) forwards_first = false;
      }
      if (a.action.kind == PipelineActionKind::backward) backward_seen = true;
    }
  }
  traced.shape.stages = one_pipeline_step.empty() ? 1 : one_pipeline_step.front().pp;
  traced.shape.virtual_stages = highest_chunk + 1;
  traced.shape.micro_batches = std::max<int>(1, static_cast<int>(micro_batches.size()));
  if (split_backward) {
    traced.schedule = PipelineSchedule::zero_bubble;
    traced.name = "zero_bubble";
  } else if (highest_chunk > 0) {
    traced.schedule = PipelineSchedule::interleaved;
    traced.name = "interleaved";
  } else if (forwards_first && traced.shape.micro_batches > traced.shape.stages) {
    traced.schedule = PipelineSchedule::gpipe;
    traced.name = "gpipe";
  } else {
    traced.schedule = PipelineSchedule::one_f_one_b;
    traced.name = forwards_first ? "gpipe/1f1b" : "1f1b";
  }
  return traced;
}

std::string timelineRow(const StepTrace& stage, double span_start, double span_end, int width) {
  std::string row(static_cast<std::size_t>(std::max(width, 1)), '.');
  const double span = span_end - span_start;
  if (!(span > 0.0)) return row;
  const double bucket = span / static_cast<double>(row.size());
  for (std::size_t i = 0; i < row.size(); ++i) {
    const double lo = span_start + bucket * static_cast<double>(i);
    const double hi = lo + bucket;
    std::map<char, double> time_in;
    double busy = 0.0;
    for (const TimedAction& a : stage.actions) {
      if (!isComputeAction(a.action.kind)) continue;
      const double overlap = std::min(hi, stage.step_start + a.end) - std::max(lo, stage.step_start + a.start);
      if (overlap <= 0.0) continue;
      time_in[symbol(a.action.kind)] += overlap;
      busy += overlap;
    }
    char best = '.';
    double most = bucket - busy;  // idle time in the bucket
    for (const auto& [c, t] : time_in) {
      if (t > most) {
        best = c;
        most = t;
      }
    }
    row[i] = best;
  }
  return row;
}

std::string formatTraceReport(const std::vector<StepTrace>& traces, int last_steps, int width) {
  // step -> (dp_rank, tp_rank) -> that pipeline's stages
  std::map<int, std::map<std::pair<int, int>, std::vector<StepTrace>>> steps;
  for (const StepTrace& t : traces) steps[t.step][{t.dp_rank, t.tp_rank}].push_back(t);
  auto begin = steps.begin();
  if (last_steps > 0 && static_cast<int>(steps.size()) > last_steps) std::advance(begin, steps.size() - last_steps);

  std::ostringstream out;
  for (auto step = begin; step != steps.end(); ++step) {
    for (auto& [pipeline, stages] : step->second) {
      std::sort(stages.begin(), stages.end(), [](const StepTrace& a, const StepTrace& b) { return a.stage < b.stage; });
      const std::vector<double> bubble = measuredBubble(stages);
      const TracedSchedule traced = tracedSchedule(stages);
      double first = std::numeric_limits<double>::infinity();
      double last = -std::numeric_limits<double>::infinity();
      for (const StepTrace& t : stages) {
        for (const TimedAction& a : t.actions) {
          if (!isComputeAction(a.action.kind)) continue;
          first = std::min(first, t.step_start + a.start);
          last = std::max(last, t.step_start + a.end);
        }
      }
      const double span = last > first ? last - first : 0.0;
      out << "step " << step->first << ", pipeline dp_rank " << pipeline.first << " tp_rank " << pipeline.second << ": "
          << traced.name << ", pp " << traced.shape.stages;
      if (traced.schedule == PipelineSchedule::interleaved) out << ", v " << traced.shape.virtual_stages;
      out << ", " << traced.shape.micro_batches << " micro-batches, span " << fixed(span * 1e3, 3) << " ms\n";
      out << "  theory bubble " << theoryText(traced) << "\n";
      for (const StepTrace& t : stages) {
        double busy = 0.0;
        for (const TimedAction& a : t.actions) {
          if (isComputeAction(a.action.kind)) busy += a.end - a.start;
        }
        out << "  stage " << t.stage << " (rank " << t.rank << ")  bubble " << fixed(bubble[t.stage], 3) << "  busy "
            << fixed(busy, 6) << " s  |" << timelineRow(t, first, last, width) << "|\n";
      }
    }
  }
  return out.str();
}

}  // namespace behemoth
