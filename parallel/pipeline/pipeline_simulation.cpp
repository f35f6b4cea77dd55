// Runs a schedule against action costs (pipeline_schedule.h): the dispatch of the builders, the
// checks every schedule must pass, and the discrete-event simulation that places every action in
// time. One pass over the lists checks what can be seen without time (each compute action once,
// a backward after its forward, receives before and sends after the compute they serve); the
// simulation then finds deadlocks and sends nobody receives.
#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {
namespace {

std::string str(int value) { return std::to_string(value); }

std::string describe(const PipelineAction& a) {
  return pipelineActionName(a.kind) + "(micro-batch " + str(a.micro_batch) + ", chunk " + str(a.chunk) + ")";
}

[[noreturn]] void refuse(int rank, const PipelineAction& a, const std::string& why) {
  throw std::logic_error("pipeline schedule: rank " + str(rank) + ", " + describe(a) + ": " + why);
}

// A message between neighbouring virtual stages: direction, micro-batch, receiving virtual stage.
using MessageKey = std::tuple<bool, int, int>;  // (forward?, micro_batch, destination stage)

struct Geometry {
  int pp = 1;
  int chunks = 1;
  int last() const { return pp * chunks - 1; }
  int stage(int rank, int chunk) const { return chunk * pp + rank; }
};

// What one rank has done to one (micro-batch, chunk), as the list is read in order.
struct UnitProgress {
  bool received_input = false;  // recv_forward
  bool forward = false;
  bool received_gradient = false;  // recv_backward
  bool backward = false;           // backward or backward_input
  bool full_backward = false;      // backward (not split)
  bool weight = false;             // backward_weight
  bool sent_forward = false;
  bool sent_backward = false;
};

// The checks that need no clock, rank by rank.
void checkRankList(const std::vector<PipelineAction>& list, int rank, const Geometry& g, int micro_batches) {
  std::map<std::pair<int, int>, UnitProgress> units;
  for (const PipelineAction& a : list) {
    if (a.micro_batch < 0 || a.micro_batch >= micro_batches) refuse(rank, a, "micro-batch out of range 0.." + str(micro_batches - 1));
    if (a.chunk < 0 || a.chunk >= g.chunks) refuse(rank, a, "chunk out of range 0.." + str(g.chunks - 1));
    const int k = g.stage(rank, a.chunk);
    const bool first = k == 0;
    const bool last = k == g.last();
    UnitProgress& u = units[{a.micro_batch, a.chunk}];
    switch (a.kind) {
      case PipelineActionKind::recv_forward:
        if (first) refuse(rank, a, "the first virtual stage has no input to receive");
        if (u.received_input) refuse(rank, a, "received twice");
        if (u.forward) refuse(rank, a, "received after its forward ran");
        u.received_input = true;
        break;
      case PipelineActionKind::forward:
        if (u.forward) refuse(rank, a, "repeated");
        if (!first && !u.received_input) refuse(rank, a, "runs before its recv_forward");
        u.forward = true;
        break;
      case PipelineActionKind::send_forward:
        if (last) refuse(rank, a, "the last virtual stage has no next stage to send to");
        if (!u.forward) refuse(rank, a, "sent before its forward ran");
        if (u.sent_forward) refuse(rank, a, "sent twice");
        u.sent_forward = true;
        break;
      case PipelineActionKind::recv_backward:
        if (last) refuse(rank, a, "the last virtual stage has no gradient to receive");
        if (u.received_gradient) refuse(rank, a, "received twice");
        if (u.backward) refuse(rank, a, "received after its backward ran");
        u.received_gradient = true;
        break;
      case PipelineActionKind::backward:
      case PipelineActionKind::backward_input:
        if (u.backward) refuse(rank, a, "repeated (a micro-batch has one backward or one backward_input)");
        if (!u.forward) refuse(rank, a, "runs before its forward");
        if (!last && !u.received_gradient) refuse(rank, a, "runs before its recv_backward");
        u.backward = true;
        u.full_backward = a.kind == PipelineActionKind::backward;
        break;
      case PipelineActionKind::backward_weight:
        if (u.weight) refuse(rank, a, "repeated");
        if (!u.backward || u.full_backward) refuse(rank, a, "runs before its backward_input");
        u.weight = true;
        break;
      case PipelineActionKind::send_backward:
        if (first) refuse(rank, a, "the first virtual stage has no previous stage to send to");
        if (!u.backward) refuse(rank, a, "sent before its backward ran");
        if (u.sent_backward) refuse(rank, a, "sent twice");
        u.sent_backward = true;
        break;
    }
  }
  for (int c = 0; c < g.chunks; ++c) {
    for (int m = 0; m < micro_batches; ++m) {
      const UnitProgress& u = units[{m, c}];
      const auto missing = [&](PipelineActionKind kind) { refuse(rank, PipelineAction{kind, m, c}, "missing"); };
      if (!u.forward) missing(PipelineActionKind::forward);
      if (!u.backward) missing(PipelineActionKind::backward);
      if (u.backward && !u.full_backward && !u.weight) missing(PipelineActionKind::backward_weight);
    }
  }
}

double computeCost(const PipelineAction& a, int stage, const Geometry& g, const ActionCosts& costs) {
  // The embedding and head cost extra; their backward twice their forward, as every matmul.
  double extra = 0.0;
  if (stage == 0) extra += costs.first_stage_extra;
  if (stage == g.last()) extra += costs.last_stage_extra;
  switch (a.kind) {
    case PipelineActionKind::forward: return costs.forward + extra;
    case PipelineActionKind::backward: return costs.backward + 2.0 * extra;
    case PipelineActionKind::backward_input: return costs.backward_input + extra;
    case PipelineActionKind::backward_weight: return costs.backward_weight + extra;
    default: return 0.0;
  }
}

}  // namespace

PipelineSchedulePlan buildPipelineSchedule(PipelineSchedule schedule, const PipelineShape& shape) {
  switch (schedule) {
    case PipelineSchedule::gpipe: return gpipeSchedule(shape);
    case PipelineSchedule::one_f_one_b: return oneFOneBSchedule(shape);
    case PipelineSchedule::interleaved: return interleavedSchedule(shape);
    case PipelineSchedule::zero_bubble: return zeroBubbleSchedule(shape);
  }
  throw std::invalid_argument("parallel.pp_schedule: unknown schedule");
}

PipelineTimeline simulatePipeline(const PipelineSchedulePlan& schedule, const PipelineShape& shape, const ActionCosts& costs) {
  const Geometry g{shape.stages, shape.virtual_stages};
  if (static_cast<int>(schedule.size()) != g.pp) {
    throw std::logic_error("pipeline schedule: " + str(static_cast<int>(schedule.size())) + " rank lists for " + str(g.pp) +
                           " pipeline stages");
  }
  for (int rank = 0; rank < g.pp; ++rank) checkRankList(schedule[rank], rank, g, shape.micro_batches);

  PipelineTimeline timeline;
  timeline.ranks.assign(g.pp, {});
  timeline.peak_in_flight.assign(g.pp, 0);
  std::vector<std::size_t> next(g.pp, 0);
  std::vector<double> clock(g.pp, 0.0);
  std::vector<int> in_flight(g.pp, 0);
  std::map<MessageKey, std::pair<double, int>> sent;  // when, and which rank sent it
  std::set<MessageKey> received;

  bool progressed = true;
  while (progressed) {
    progressed = false;
    for (int rank = 0; rank < g.pp; ++rank) {
      const std::vector<PipelineAction>& list = schedule[rank];
      while (next[rank] < list.size()) {
        const PipelineAction& a = list[next[rank]];
        const int k = g.stage(rank, a.chunk);
        if (a.kind == PipelineActionKind::recv_forward || a.kind == PipelineActionKind::recv_backward) {
          const MessageKey key{a.kind == PipelineActionKind::recv_forward, a.micro_batch, k};
          const auto found = sent.find(key);
          if (found == sent.end()) break;  // blocked until the neighbour sends
          clock[rank] = std::max(clock[rank], found->second.first + costs.transfer);
          received.insert(key);
        } else if (a.kind == PipelineActionKind::send_forward || a.kind == PipelineActionKind::send_backward) {
          const bool forward = a.kind == PipelineActionKind::send_forward;
          sent[MessageKey{forward, a.micro_batch, forward ? k + 1 : k - 1}] = {clock[rank], rank};
        } else {
          const double start = clock[rank];
          clock[rank] += computeCost(a, k, g, costs);
          timeline.ranks[rank].push_back(TimedAction{a, start, clock[rank]});
          if (a.kind == PipelineActionKind::forward) {
            timeline.peak_in_flight[rank] = std::max(timeline.peak_in_flight[rank], ++in_flight[rank]);
          } else if (a.kind == PipelineActionKind::backward || a.kind == PipelineActionKind::backward_weight) {
            --in_flight[rank];
          }
        }
        ++next[rank];
        progressed = true;
      }
    }
  }

  std::string blocked;
  for (int rank = 0; rank < g.pp; ++rank) {
    if (next[rank] < schedule[rank].size()) {
      blocked += (blocked.empty() ? "" : "; ") + std::string("rank ") + str(rank) + " waits in " + describe(schedule[rank][next[rank]]);
    }
  }
  if (!blocked.empty()) throw std::logic_error("pipeline schedule deadlocks: " + blocked);
  for (const auto& [key, when_and_rank] : sent) {
    if (received.count(key) == 0) {
      const auto& [forward, micro_batch, destination] = key;
      const int source = forward ? destination - 1 : destination + 1;
      const PipelineAction send{forward ? PipelineActionKind::send_forward : PipelineActionKind::send_backward, micro_batch,
                                source / g.pp};
      refuse(when_and_rank.second, send,
             "never received by rank " + str(destination % g.pp) + " (chunk " + str(destination / g.pp) + ")");
    }
  }

  timeline.bubble_fraction = bubbleFractions(timeline.ranks);
  double first = 0.0;
  double last = 0.0;
  bool any = false;
  for (const auto& rank : timeline.ranks) {
    for (const TimedAction& t : rank) {
      first = any ? std::min(first, t.start) : t.start;
      last = any ? std::max(last, t.end) : t.end;
      any = true;
    }
  }
  timeline.makespan = last - first;
  return timeline;
}

void checkSchedule(const PipelineSchedulePlan& schedule, const PipelineShape& shape) { simulatePipeline(schedule, shape); }

std::vector<double> bubbleFractions(const std::vector<std::vector<TimedAction>>& ranks) {
  double first = 0.0;
  double last = 0.0;
  bool any = false;
  std::vector<double> busy(ranks.size(), 0.0);
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    for (const TimedAction& t : ranks[r]) {
      if (!isComputeAction(t.action.kind)) continue;
      busy[r] += t.end - t.start;
      first = any ? std::min(first, t.start) : t.start;
      last = any ? std::max(last, t.end) : t.end;
      any = true;
    }
  }
  std::vector<double> fractions(ranks.size(), 0.0);
  const double span = last - first;
  if (span <= 0.0) return fractions;
  for (std::size_t r = 0; r < ranks.size(); ++r) fractions[r] = 1.0 - busy[r] / span;
  return fractions;
}

}  // namespace behemoth
