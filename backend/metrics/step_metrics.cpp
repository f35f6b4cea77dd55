#include "backend/metrics/step_metrics.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace behemoth {
namespace {

using nlohmann::json;

template <typename T>
void readOptional(const json& object, const char* key, T& out) {
  const auto found = object.find(key);
  if (found == object.end()) return;
  if (found->is_null()) {
    // JSON has no NaN: a diverged loss is written as null and must read back as NaN, not as 0.
    if constexpr (std::is_floating_point_v<T>) out = std::numeric_limits<T>::quiet_NaN();
    return;
  }
  if (!found->is_number()) {
    throw std::invalid_argument(std::string("step metrics: ") + key + ": expected a number, got " + found->dump());
  }
  out = found->get<T>();
}

}  // namespace

json StepMetrics::toJson() const {
  json out = {{"step", step},
              {"loss", loss},
              {"grad_norm", grad_norm},
              {"lr", lr},
              {"step_time_s", step_time_s},
              {"tokens_per_s", tokens_per_s},
              {"model_state_bytes", model_state_bytes},
              {"peak_rss_bytes", peak_rss_bytes},
              {"comm_bytes", comm_bytes},
              {"comm_bytes_by_axis", comm_bytes_by_axis},
              {"host_state_bytes", host_state_bytes},
              {"skipped", skipped},
              {"tokens_seen", tokens_seen},
              {"elapsed_s", elapsed_s}};
  if (eval_loss) out["eval_loss"] = *eval_loss;
  if (loss_scale) out["loss_scale"] = *loss_scale;
  if (activation_bytes) out["activation_bytes"] = *activation_bytes;
  if (peak_tensor_bytes) out["peak_tensor_bytes"] = *peak_tensor_bytes;
  if (tensor_allocations) out["tensor_allocations"] = *tensor_allocations;
  if (!rank_model_state_bytes.empty()) out["rank_model_state_bytes"] = rank_model_state_bytes;
  if (!rank_peak_rss_bytes.empty()) out["rank_peak_rss_bytes"] = rank_peak_rss_bytes;
  if (!rank_activation_bytes.empty()) out["rank_activation_bytes"] = rank_activation_bytes;
  if (!pipeline_bubble.empty()) out["pipeline_bubble"] = pipeline_bubble;
  if (!profile_s.empty()) out["profile_s"] = profile_s;
  for (const auto& [name, values] : tierFields()) {
    if (!values->empty()) out[name] = *values;
  }
  return out;
}

namespace {

std::vector<double> readNumbers(const json& object, const char* name) {
  std::vector<double> values;
  const auto found = object.find(name);
  if (found == object.end()) return values;
  if (!found->is_array()) throw std::invalid_argument(std::string("step metrics: ") + name + ": expected an array");
  for (const auto& value : *found) {
    if (!value.is_number()) throw std::invalid_argument(std::string("step metrics: ") + name + ": expected numbers, got " + value.dump());
    values.push_back(value.get<double>());
  }
  return values;
}

void readIntegers(const json& object, const char* name, std::vector<std::int64_t>& out) {
  const auto found = object.find(name);
  if (found == object.end()) return;
  if (!found->is_array()) throw std::invalid_argument(std::string("step metrics: ") + name + ": expected an array");
  for (const auto& value : *found) {
    if (!value.is_number_integer()) {
      throw std::invalid_argument(std::string("step metrics: ") + name + ": expected integers, got " + value.dump());
    }
    out.push_back(value.get<std::int64_t>());
  }
}

}  // namespace

std::vector<std::pair<const char*, const std::vector<std::int64_t>*>> StepMetrics::tierFields() const {
  return {{"rank_device_bytes", &rank_device_bytes},         {"rank_device_peak_bytes", &rank_device_peak_bytes},
          {"rank_host_bytes", &rank_host_bytes},             {"rank_disk_bytes", &rank_disk_bytes},
          {"rank_tier_moved_bytes", &rank_tier_moved_bytes}, {"rank_device_chunks", &rank_device_chunks},
          {"rank_host_chunks", &rank_host_chunks},           {"rank_disk_chunks", &rank_disk_chunks}};
}

std::vector<std::pair<const char*, std::vector<std::int64_t>*>> StepMetrics::tierFields() {
  return {{"rank_device_bytes", &rank_device_bytes},         {"rank_device_peak_bytes", &rank_device_peak_bytes},
          {"rank_host_bytes", &rank_host_bytes},             {"rank_disk_bytes", &rank_disk_bytes},
          {"rank_tier_moved_bytes", &rank_tier_moved_bytes}, {"rank_device_chunks", &rank_device_chunks},
          {"rank_host_chunks", &rank_host_chunks},           {"rank_disk_chunks", &rank_disk_chunks}};
}

StepMetrics StepMetrics::fromJson(const json& object) {
  if (!object.is_object()) throw std::invalid_argument("step metrics: expected a JSON object, got " + object.dump());
  for (const char* required : {"step", "loss"}) {
    if (!object.contains(required)) throw std::invalid_argument(std::string("step metrics: ") + required + ": missing");
  }
  StepMetrics metrics;
  readOptional(object, "step", metrics.step);
  readOptional(object, "loss", metrics.loss);
  readOptional(object, "grad_norm", metrics.grad_norm);
  readOptional(object, "lr", metrics.lr);
  readOptional(object, "step_time_s", metrics.step_time_s);
  readOptional(object, "tokens_per_s", metrics.tokens_per_s);
  readOptional(object, "model_state_bytes", metrics.model_state_bytes);
  readOptional(object, "peak_rss_bytes", metrics.peak_rss_bytes);
  readOptional(object, "comm_bytes", metrics.comm_bytes);
  readOptional(object, "tokens_seen", metrics.tokens_seen);
  readOptional(object, "elapsed_s", metrics.elapsed_s);
  readOptional(object, "host_state_bytes", metrics.host_state_bytes);
  if (const auto found = object.find("skipped"); found != object.end()) {
    if (!found->is_boolean()) throw std::invalid_argument("step metrics: skipped: expected true or false, got " + found->dump());
    metrics.skipped = found->get<bool>();
  }
  if (const auto found = object.find("loss_scale"); found != object.end()) {
    double scale = 0.0;
    readOptional(object, "loss_scale", scale);
    metrics.loss_scale = scale;
  }
  metrics.pipeline_bubble = readNumbers(object, "pipeline_bubble");
  for (auto [name, field] : {std::pair{"activation_bytes", &metrics.activation_bytes},
                             std::pair{"peak_tensor_bytes", &metrics.peak_tensor_bytes},
                             std::pair{"tensor_allocations", &metrics.tensor_allocations}}) {
    if (!object.contains(name)) continue;
    std::int64_t bytes = 0;
    readOptional(object, name, bytes);
    *field = bytes;
  }
  for (auto [name, field] : {std::pair{"rank_model_state_bytes", &metrics.rank_model_state_bytes},
                             std::pair{"rank_peak_rss_bytes", &metrics.rank_peak_rss_bytes},
                             std::pair{"rank_activation_bytes", &metrics.rank_activation_bytes}}) {
    readIntegers(object, name, *field);
  }
  for (const auto& [name, field] : metrics.tierFields()) readIntegers(object, name, *field);
  if (const auto found = object.find("comm_bytes_by_axis"); found != object.end() && found->is_object()) {
    for (const auto& item : found->items()) {
      if (!item.value().is_number_integer()) {
        throw std::invalid_argument("step metrics: comm_bytes_by_axis." + item.key() + ": expected an integer");
      }
      metrics.comm_bytes_by_axis[item.key()] = item.value().get<std::int64_t>();
    }
  }
  if (const auto found = object.find("profile_s"); found != object.end() && found->is_object()) {
    for (const auto& item : found->items()) {
      if (!item.value().is_number()) throw std::invalid_argument("step metrics: profile_s." + item.key() + ": expected a number");
      metrics.profile_s[item.key()] = item.value().get<double>();
    }
  }
  if (const auto found = object.find("eval_loss"); found != object.end()) {
    double eval = 0.0;
    readOptional(object, "eval_loss", eval);
    metrics.eval_loss = eval;
  }
  return metrics;
}

}  // namespace behemoth
