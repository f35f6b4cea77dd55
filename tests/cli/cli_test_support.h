// A tiny project file for end-to-end runs of the `behemoth` executable.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "tests/support/command.h"

namespace behemoth {

inline nlohmann::json tinyProjectJson(const std::string& out_dir, int steps = 6) {
  return {{"name", "cli-tiny"},
          {"model", {{"arch", "gpt"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 32}, {"seq_len", 16}, {"vocab_size", 256}}},
          {"data", {{"corpus", "builtin"}, {"global_batch_size", 8}}},
          {"devices", {{"kind", "cpu"}, {"count", 2}}},
          {"parallel", {{"dp", -1}}},
          {"precision", "fp32"},
          {"optimizer", {{"lr", 0.003}, {"warmup_steps", 2}}},
          {"train", {{"steps", steps}, {"seed", 7}, {"log_every", 1}, {"out_dir", out_dir}}}};
}

// The "loss" of every step event in OUT_DIR/metrics.jsonl.
inline std::vector<double> lossesIn(const std::string& metrics_path) {
  std::vector<double> losses;
  std::istringstream lines(readFile(metrics_path));
  for (std::string line; std::getline(lines, line);) {
    const auto event = nlohmann::json::parse(line);
    if (event.value("event", "") == "step") losses.push_back(event.at("loss").get<double>());
  }
  return losses;
}

}  // namespace behemoth
