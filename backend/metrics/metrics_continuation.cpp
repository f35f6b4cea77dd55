#include "backend/metrics/metrics_continuation.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "backend/checkpoint/durable_files.h"

namespace behemoth {
namespace {

bool keepLine(const std::string& line, std::int64_t step) {
  const nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded() || !event.is_object()) return false;
  const auto found = event.find("step");
  if (found == event.end() || !found->is_number()) return true;
  return found->get<double>() <= static_cast<double>(step);
}

}  // namespace

void truncateMetricsAfterStep(const std::string& path, std::int64_t step) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return;
    throw std::runtime_error("metrics file " + path + ": cannot be read");
  }
  std::ostringstream whole;
  whole << in.rdbuf();
  const std::string text = whole.str();

  std::string kept;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // torn last line: no newline made it to the file
    const std::string line = text.substr(begin, end - begin);
    if (keepLine(line, step)) kept += line + "\n";
    begin = end + 1;
  }

  writeFileDurably(path, kept);
}

void continueMetricsFile(const std::string& out_dir, std::int64_t step) {
  truncateMetricsAfterStep((std::filesystem::path(out_dir) / "metrics.jsonl").string(), step);
}

}  // namespace behemoth
