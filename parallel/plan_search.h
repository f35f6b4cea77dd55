// The auto-parallel search ("Auto plan"): every valid layout of a model on a device set for a
// global batch (axis sizes, ZeRO stage, micro-batching, pipeline schedule, recomputation,
// offload), estimated with the memory and time models; what does not fit is dropped, the rest
// ranked by predicted throughput. When nothing fits, the answer says by how much the closest
// layout misses. See docs/planning.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "memory/memory_model.h"
#include "memory/model_description.h"
#include "memory/time_model.h"
#include "memory/training_layout.h"
#include "parallel/plan_estimate.h"

namespace behemoth {

struct SearchRequest {
  ModelDescription model;
  DeviceSpec device;               // memory_bytes is the capacity every layout must fit in
  MemoryAllowance allowance;
  double host_memory_bytes = 0;    // host memory per device for offloaded state; 0 = unlimited
  int devices = 1;
  std::int64_t global_batch = 8;   // sequences per optimizer step
  // Fields not searched (precision, state layout, optimizer bytes, fused attention, bucket,
  // overlap) are taken from here.
  TrainingLayout base;
  // The search space.
  bool allow_tensor = true;
  bool allow_pipeline = true;
  bool allow_context = true;       // the sp axis (Ulysses and ring, where the shapes allow each)
  bool allow_offload = true;
  bool allow_recompute = true;
  int max_micro_batch_size = 16;
  int keep = 5;                    // how many ranked plans to return
  // Whether this build can run a layout: "" when it can, else the one-line reason (naming the
  // project field). Set by backend/planning (whyNotRunnable); unset, plans are not judged.
  std::function<std::string(const TrainingLayout&)> why_not_runnable;
  int keep_runnable = 1;           // with why_not_runnable: the fastest runnable plans returned too
};

struct RankedPlan {
  PlanEstimate estimate;
  std::string summary;  // "dp8 tp8 pp1 zero1 mb2x4 ..."
  std::string reason;   // why it ranks above the next one (or why it is the closest miss)
  std::int64_t rank = 0;  // 1 + the fitting layouts predicted faster than this one
  // Judged with SearchRequest::why_not_runnable; not judged, every plan counts as runnable.
  bool runnable = true;
  std::string not_runnable;  // the one-line reason when it is not
};

struct SearchResult {
  std::vector<RankedPlan> best;       // fastest first; empty when nothing fits
  std::optional<RankedPlan> closest;  // when nothing fits: the smallest shortfall
  // With why_not_runnable: the keep_runnable fastest fitting plans this build can run (fastest
  // first, wherever they rank; empty when none can run), and `best` is marked.
  std::vector<RankedPlan> runnable;
  bool judged = false;
  std::int64_t evaluated = 0;
  std::int64_t fitting = 0;
  double seconds = 0;
  std::string message;                // one line for people
  bool anythingFits() const { return !best.empty(); }
};

std::string describeLayout(const TrainingLayout& layout);

// Throws std::invalid_argument for an invalid model, device count or batch.
SearchResult searchPlans(const SearchRequest& request);

}  // namespace behemoth
