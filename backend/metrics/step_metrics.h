// What one logged training step reports: the `step` event, a line of metrics.jsonl, a history row.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace behemoth {

struct StepMetrics {
  std::int64_t step = 0;
  double loss = 0.0;
  double grad_norm = 0.0;
  double lr = 0.0;
  double step_time_s = 0.0;
  double tokens_per_s = 0.0;
  // Per-rank maxima over the world.
  std::int64_t model_state_bytes = 0;  // parameters, gradients and optimizer states held by the rank
  std::int64_t peak_rss_bytes = 0;
  std::int64_t comm_bytes = 0;         // bytes moved by collectives in this step
  std::map<std::string, std::int64_t> comm_bytes_by_axis;  // "dp" -> bytes, ...
  std::int64_t host_state_bytes = 0;   // the part of model_state_bytes in host memory (optimizer offload)
  // Every rank's own figure, indexed by rank (empty when the producer did not send them).
  std::vector<std::int64_t> rank_model_state_bytes;
  std::vector<std::int64_t> rank_peak_rss_bytes;
  // train.measure_memory only (exact tensor bytes, per-rank maxima): the tensors the first
  // micro-batch's forward and loss kept alive for backward, and the step's peak of live tensors.
  std::optional<std::int64_t> activation_bytes;
  std::optional<std::int64_t> peak_tensor_bytes;
  // train.measure_memory: tensor storages the step allocated (forward, backward, optimizer), rank max.
  std::optional<std::int64_t> tensor_allocations;
  // Pipelines: every rank's activation bytes at its peak (train.measure_memory), and per stage the
  // measured bubble: the fraction of the step's schedule the stage spent not computing.
  std::vector<std::int64_t> rank_activation_bytes;
  std::vector<double> pipeline_bubble;
  // ZeRO-3 chunks (parallel.zero 3, docs/zero3.md), every rank's figure indexed by rank: chunk
  // bytes on each memory tier at the step's end (device includes chunks gathered then), the device
  // tier's peak during the step, the bytes copied between tiers during the step, chunks per tier.
  std::vector<std::int64_t> rank_device_bytes;
  std::vector<std::int64_t> rank_device_peak_bytes;
  std::vector<std::int64_t> rank_host_bytes;
  std::vector<std::int64_t> rank_disk_bytes;
  std::vector<std::int64_t> rank_tier_moved_bytes;
  std::vector<std::int64_t> rank_device_chunks;
  std::vector<std::int64_t> rank_host_chunks;
  std::vector<std::int64_t> rank_disk_chunks;
  // train.profile: seconds per step by kind of work ("matmul", "attention", ..., and "other":
  // the step's time outside any operator), the mean over the logged window and over the ranks.
  std::map<std::string, double> profile_s;
  std::optional<double> loss_scale;    // fp16: the dynamic loss scale the step used
  bool skipped = false;                // fp16 overflow: no rank updated the weights this step
  std::optional<double> eval_loss;     // present on steps that evaluated
  std::int64_t tokens_seen = 0;        // since the run started
  double elapsed_s = 0.0;              // since the run started

  // The ZeRO-3 per-rank tier fields by event name (what toJson writes and fromJson reads).
  std::vector<std::pair<const char*, const std::vector<std::int64_t>*>> tierFields() const;
  std::vector<std::pair<const char*, std::vector<std::int64_t>*>> tierFields();

  // The fields of a step event, without "event". Field names are a public interface: add, never rename.
  nlohmann::json toJson() const;
  // Reads a step event (or its fields). step and loss are required; other fields default, so older
  // and newer producers stay readable. Throws std::invalid_argument naming the field.
  static StepMetrics fromJson(const nlohmann::json& json);
};

}  // namespace behemoth
