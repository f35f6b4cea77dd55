#include "backend/pipeline/step_trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <stdexcept>
#include <tuple>

namespace behemoth {
namespace {

nlohmann::json actionToJson(const TimedAction& t) {
  return {{"kind", pipelineActionName(t.action.kind)},
          {"micro_batch", t.action.micro_batch},
          {"chunk", t.action.chunk},
          {"start", t.start},
          {"end", t.end}};
}

template <typename T>
T field(const nlohmann::json& object, const char* name, const std::string& where) {
  const auto found = object.find(name);
  if (found == object.end()) throw std::invalid_argument(where + ": missing \"" + name + "\"");
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(where + ": \"" + name + "\" has the wrong type");
  }
}

}  // namespace

std::filesystem::path traceDirectory(const std::filesystem::path& out_dir) { return out_dir / "trace"; }

std::filesystem::path traceFile(const std::filesystem::path& out_dir, int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d.jsonl", rank);
  return traceDirectory(out_dir) / name;
}

std::string stepTraceToJsonLine(const StepTrace& trace) {
  nlohmann::json actions = nlohmann::json::array();
  for (const TimedAction& t : trace.actions) actions.push_back(actionToJson(t));
  const nlohmann::json line = {{"step", trace.step},       {"rank", trace.rank},       {"stage", trace.stage},
                               {"pp", trace.pp},           {"dp_rank", trace.dp_rank}, {"tp_rank", trace.tp_rank},
                               {"step_start", trace.step_start}, {"actions", actions}};
  return line.dump();
}

StepTrace stepTraceFromJsonLine(const std::string& line, const std::string& source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error&) {
    throw std::invalid_argument(source + ": not a JSON object");
  }
  if (!json.is_object()) throw std::invalid_argument(source + ": not a JSON object");
  StepTrace trace;
  trace.step = field<int>(json, "step", source);
  trace.rank = field<int>(json, "rank", source);
  trace.stage = field<int>(json, "stage", source);
  trace.pp = field<int>(json, "pp", source);
  trace.dp_rank = field<int>(json, "dp_rank", source);
  trace.tp_rank = field<int>(json, "tp_rank", source);
  trace.step_start = field<double>(json, "step_start", source);
  if (trace.pp < 1 || trace.stage < 0 || trace.stage >= trace.pp) {
    throw std::invalid_argument(source + ": stage " + std::to_string(trace.stage) + " is not in 0.." +
                                std::to_string(trace.pp - 1) + " (pp " + std::to_string(trace.pp) + ")");
  }
  const auto actions = json.find("actions");
  if (actions == json.end() || !actions->is_array()) throw std::invalid_argument(source + ": missing \"actions\" array");
  for (std::size_t i = 0; i < actions->size(); ++i) {
    const nlohmann::json& a = (*actions)[i];
    const std::string where = source + ": action " + std::to_string(i);
    if (!a.is_object()) throw std::invalid_argument(where + ": not a JSON object");
    TimedAction t;
    try {
      t.action.kind = pipelineActionFromName(field<std::string>(a, "kind", where));
    } catch (const std::invalid_argument& error) {
      if (std::string(error.what()).rfind(where, 0) == 0) throw;
      throw std::invalid_argument(where + ": " + error.what());
    }
    t.action.micro_batch = field<int>(a, "micro_batch", where);
    t.action.chunk = field<int>(a, "chunk", where);
    t.start = field<double>(a, "start", where);
    t.end = field<double>(a, "end", where);
    if (t.end < t.start) throw std::invalid_argument(where + ": ends before it starts");
    trace.actions.push_back(t);
  }
  return trace;
}

std::vector<StepTrace> readStepTraces(const std::filesystem::path& out_dir) {
  const std::filesystem::path dir = traceDirectory(out_dir);
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) throw std::invalid_argument(dir.string() + ": no such folder");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind("rank-", 0) == 0 && entry.path().extension() == ".jsonl") {
      files.push_back(entry.path());
    }
  }
  if (error) throw std::invalid_argument(dir.string() + ": " + error.message());
  if (files.empty()) throw std::invalid_argument(dir.string() + ": no rank-NNNNN.jsonl trace files");
  std::sort(files.begin(), files.end());
  std::vector<StepTrace> traces;
  for (const auto& file : files) {
    std::ifstream in(file);
    if (!in) throw std::invalid_argument(file.string() + ": cannot be read");
    int number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      traces.push_back(stepTraceFromJsonLine(line, file.string() + ":" + std::to_string(number)));
    }
  }
  std::stable_sort(traces.begin(), traces.end(), [](const StepTrace& a, const StepTrace& b) {
    return std::tie(a.step, a.rank) < std::tie(b.step, b.rank);
  });
  return traces;
}

std::vector<double> measuredBubble(const std::vector<StepTrace>& one_pipeline_step) {
  if (one_pipeline_step.empty()) throw std::invalid_argument("measuredBubble: no traces");
  const StepTrace& head = one_pipeline_step.front();
  std::vector<double> busy(head.pp, 0.0);
  std::vector<bool> seen(head.pp, false);
  double first = std::numeric_limits<double>::infinity();
  double last = -std::numeric_limits<double>::infinity();
  for (const StepTrace& t : one_pipeline_step) {
    if (t.step != head.step || t.pp != head.pp || t.dp_rank != head.dp_rank || t.tp_rank != head.tp_rank) {
      throw std::invalid_argument("measuredBubble: rank " + std::to_string(t.rank) +
                                  "'s trace is not of the same step and pipeline as rank " + std::to_string(head.rank) + "'s");
    }
    if (seen[t.stage]) throw std::invalid_argument("measuredBubble: stage " + std::to_string(t.stage) + " traced twice");
    seen[t.stage] = true;
    for (const TimedAction& a : t.actions) {
      if (!isComputeAction(a.action.kind)) continue;
      busy[t.stage] += a.end - a.start;
      first = std::min(first, t.step_start + a.start);
      last = std::max(last, t.step_start + a.end);
    }
  }
  for (int s = 0; s < head.pp; ++s) {
    if (!seen[s]) {
      throw std::invalid_argument("measuredBubble: step " + std::to_string(head.step) + " has no trace of stage " +
                                  std::to_string(s) + " (dp_rank " + std::to_string(head.dp_rank) + ", tp_rank " +
                                  std::to_string(head.tp_rank) + ")");
    }
  }
  std::vector<double> bubble(head.pp, 0.0);
  const double span = last - first;
  if (!(span > 0.0)) return bubble;
  for (int s = 0; s < head.pp; ++s) bubble[s] = 1.0 - busy[s] / span;
  return bubble;
}

}  // namespace behemoth
