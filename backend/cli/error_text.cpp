#include "backend/cli/error_text.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <fstream>

#include "backend/metrics/events.h"

namespace behemoth {
namespace {

std::string firstLine(std::string text) {
  const std::size_t end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string oneLineError(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error)) {
    return firstLine(torch_error->what_without_backtrace());
  }
  return firstLine(error.what());
}

std::string fullErrorText(const std::exception& error) { return error.what(); }

std::string workerLogPath(const std::string& out_dir, int rank) {
  return (std::filesystem::path(out_dir) / ("worker-" + std::to_string(rank) + ".log")).string();
}

bool appendWorkerLog(const std::string& out_dir, int rank, const std::string& text) {
  std::error_code ignored;
  std::filesystem::create_directories(out_dir, ignored);
  std::ofstream log(workerLogPath(out_dir, rank), std::ios::app);
  if (!log) return false;
  log << "== " << utcTimestamp() << " rank " << rank << " failed:\n" << text << "\n";
  log.flush();
  return static_cast<bool>(log);
}

std::string reportedError(const std::exception& error, const std::string& log_path) {
  return oneLineError(error) + " (details: " + log_path + ")";
}

RankError rootCause(const std::vector<RankError>& reported, const RankError& fallback) {
  // The phrases of parallel/group.cpp's collectiveFailureMessage for a peer that went away.
  const auto consequence = [](const std::string& message) {
    return message.find("(a peer rank exited or crashed)") != std::string::npos ||
           message.find("(a peer rank is missing or stuck)") != std::string::npos;
  };
  for (const RankError& error : reported) {
    if (!consequence(error.message)) return error;
  }
  // No rank reported a failure of its own (one was killed, or exited without a word): the
  // launcher's view names the rank that went first and how.
  return fallback;
}

}  // namespace behemoth
