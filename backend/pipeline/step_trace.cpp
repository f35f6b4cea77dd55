#include "backend/pipeline/step_trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace behemoth {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path traceDirectory(const fs::path& out_dir) { return out_dir / "trace"; }

fs::path traceFile(const fs::path& out_dir, int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d.jsonl", rank);
  return traceDirectory(out_dir) / name;
}

std::string stepTraceToJsonLine(const StepTrace& trace) {
  json actions = json::array();
  for (const TimedAction& timed : trace.actions) {
    actions.push_back({{"kind", pipelineActionName(timed.action.kind)},
                       {"micro_batch", timed.action.micro_batch},
                       {"chunk", timed.action.chunk},
                       {"start", timed.start},
                       {"end", timed.end}});
  }
  return json{{"step", trace.step},       {"rank", trace.rank},       {"stage", trace.stage},
              {"pp", trace.pp},           {"dp_rank", trace.dp_rank}, {"tp_rank", trace.tp_rank},
              {"step_start", trace.step_start}, {"actions", actions}}
      .dump();
}

StepTrace stepTraceFromJsonLine(const std::string& line, const std::string& source) {
  try {
    const json j = json::parse(line);
    StepTrace trace;
    trace.step = j.at("step").get<int>();
    trace.rank = j.at("rank").get<int>();
    trace.stage = j.at("stage").get<int>();
    trace.pp = j.at("pp").get<int>();
    trace.dp_rank = j.at("dp_rank").get<int>();
    trace.tp_rank = j.at("tp_rank").get<int>();
    trace.step_start = j.at("step_start").get<double>();
    for (const json& a : j.at("actions")) {
      TimedAction timed;
      timed.action.kind = pipelineActionFromName(a.at("kind").get<std::string>());
      timed.action.micro_batch = a.at("micro_batch").get<int>();
      timed.action.chunk = a.at("chunk").get<int>();
      timed.start = a.at("start").get<double>();
      timed.end = a.at("end").get<double>();
      trace.actions.push_back(timed);
    }
    return trace;
  } catch (const std::exception& error) {
    throw std::invalid_argument(source + ": not a step trace: " + error.what());
  }
}

std::vector<StepTrace> readStepTraces(const fs::path& out_dir) {
  const fs::path folder = traceDirectory(out_dir);
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    throw std::invalid_argument(folder.string() + ": no trace folder (run with train.trace true and parallel.pp > 1)");
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<StepTrace> traces;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.empty()) continue;
      traces.push_back(stepTraceFromJsonLine(line, file.string() + ":" + std::to_string(number)));
    }
  }
  std::sort(traces.begin(), traces.end(),
            [](const StepTrace& a, const StepTrace& b) { return a.step != b.step ? a.step < b.step : a.rank < b.rank; });
  return traces;
}

std::vector<double> measuredBubble(const std::vector<StepTrace>& one_pipeline_step) {
  double first = std::numeric_limits<double>::infinity();
  double last = -std::numeric_limits<double>::infinity();
  int stages = 0;
  for (const StepTrace& trace : one_pipeline_step) {
    stages = std::max(stages, trace.stage + 1);
    for (const TimedAction& timed : trace.actions) {
      if (!isComputeAction(timed.action.kind)) continue;
      first = std::min(first, trace.step_start + timed.start);
      last = std::max(last, trace.step_start + timed.end);
    }
  }
  std::vector<double> bubble(static_cast<std::size_t>(stages), 0.0);
  const double span = last - first;
  if (!(span > 0.0)) return bubble;
  for (const StepTrace& trace : one_pipeline_step) {
    double busy = 0.0;
    for (const TimedAction& timed : trace.actions) {
      if (isComputeAction(timed.action.kind)) busy += timed.end - timed.start;
    }
    bubble[static_cast<std::size_t>(trace.stage)] = std::max(0.0, 1.0 - busy / span);
  }
  return bubble;
}

}  // namespace behemoth
