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

std::string appendWorkerLog(const std::string& out_dir, int rank, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ignored;
  fs::create_directories(out_dir, ignored);
  const std::string path = (fs::path(out_dir) / ("worker-" + std::to_string(rank) + ".log")).string();
  std::ofstream log(path, std::ios::app);
  if (!log) return "";
  log << "== " << utcTimestamp() << " rank " << rank << " failed:\n" << text << "\n";
  log.flush();
  return log ? path : "";
}

}  // namespace behemoth
