#include "backend/metrics/metrics_continuation.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace behemoth {
namespace {

bool keepLine(const std::string& line, std::int64_t step) {
  const nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded() || !event.is_object()) return false;
  const auto found = event.find("step");
  if (found == event.end() || !found->is_number()) return true;
  return found->get<double>() <= static_cast<double>(step);
}

void writeAll(int fd, const std::string& text, const std::string& path) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("metrics file " + path + ": write failed: " + std::strerror(errno));
    written += static_cast<std::size_t>(n);
  }
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

  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("metrics file " + temporary + ": cannot be created: " + std::strerror(errno));
  try {
    writeAll(fd, kept, temporary);
    if (::fsync(fd) != 0) throw std::runtime_error("metrics file " + temporary + ": fsync failed: " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw std::runtime_error("metrics file " + path + ": cannot replace it: " + reason);
  }
}

void continueMetricsFile(const std::string& out_dir, std::int64_t step) {
  truncateMetricsAfterStep((std::filesystem::path(out_dir) / "metrics.jsonl").string(), step);
}

}  // namespace behemoth
