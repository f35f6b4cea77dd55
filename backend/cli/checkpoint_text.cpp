#include "backend/cli/checkpoint_text.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

#include "backend/metrics/progress_printer.h"

namespace behemoth {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Characters on screen, not bytes: layouts say "dp 2 × tp 2".
std::size_t displayWidth(const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Left-aligned columns two spaces apart; columns listed in `right` are right-aligned (numbers).
std::string table(const std::vector<std::vector<std::string>>& rows, const std::vector<std::size_t>& right = {}) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], displayWidth(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - displayWidth(row[c]), ' ');
      const bool align_right = std::find(right.begin(), right.end(), c) != right.end();
      line += align_right ? pad + row[c] : row[c] + pad;
      if (c + 1 < row.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string orDash(const std::string& text) { return text.empty() ? "-" : text; }

std::int64_t totalBytes(const std::vector<CheckpointInfo>& checkpoints) {
  std::int64_t bytes = 0;
  for (const CheckpointInfo& info : checkpoints) bytes += info.bytes;
  return bytes;
}

std::int64_t fileBytes(const CheckpointIndex& index) {
  std::int64_t bytes = 0;
  for (const IndexedFile& file : index.files) bytes += file.bytes;
  return bytes;
}

std::string projectName(const TrainingState& state) {
  const json project = json::parse(state.project_json, nullptr, false);
  return project.is_object() && project.contains("name") && project["name"].is_string() ? project["name"].get<std::string>()
                                                                                         : std::string();
}

}  // namespace

fs::path checkpointStepDir(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error)) throw std::invalid_argument(path + ": no such file or directory");
  if (fs::is_regular_file(fs::path(path) / "index.json", error)) return fs::path(path);
  const std::vector<CheckpointInfo> checkpoints = listCheckpoints(path);
  if (checkpoints.empty()) {
    throw std::invalid_argument(path + ": not a checkpoint (no index.json) and holds no checkpoints");
  }
  for (const CheckpointInfo& info : checkpoints) {
    if (info.latest) return info.dir;
  }
  return checkpoints.back().dir;
}

std::string formatCheckpointList(const fs::path& where, const std::vector<CheckpointInfo>& checkpoints) {
  if (checkpoints.empty()) return "no checkpoints in " + where.string() + "\n";
  std::vector<std::vector<std::string>> rows = {{"step", "saved at", "layout", "ranks", "precision", "size", ""}};
  for (const CheckpointInfo& info : checkpoints) {
    rows.push_back({std::to_string(info.step), orDash(info.saved_at), orDash(info.layout), std::to_string(info.world_size),
                    orDash(info.precision), formatBytes(static_cast<double>(info.bytes)), info.latest ? "latest" : ""});
  }
  const std::string parent = checkpoints.front().dir.parent_path().string();
  return "checkpoints in " + parent + "\n" + table(rows, {0, 3, 5}) + std::to_string(checkpoints.size()) +
         (checkpoints.size() == 1 ? " checkpoint, " : " checkpoints, ") +
         formatBytes(static_cast<double>(totalBytes(checkpoints))) + " in all\n";
}

json checkpointListJson(const fs::path& where, const std::vector<CheckpointInfo>& checkpoints) {
  json list = json::array();
  json latest = nullptr;
  for (const CheckpointInfo& info : checkpoints) {
    list.push_back({{"step", info.step}, {"dir", info.dir.string()}, {"bytes", info.bytes},
                    {"world_size", info.world_size}, {"layout", info.layout}, {"precision", info.precision},
                    {"saved_at", info.saved_at}, {"latest", info.latest}});
    if (info.latest) latest = info.step;
  }
  return {{"path", where.string()}, {"checkpoints", list}, {"latest", latest}, {"bytes", totalBytes(checkpoints)}};
}

std::string formatCheckpointDetails(const fs::path& dir, const CheckpointIndex& index, const TrainingState& state) {
  std::string out = "checkpoint " + dir.string() + "\n";
  out += table({{"step", std::to_string(index.step)},
                {"project", orDash(projectName(state))},
                {"layout", orDash(state.layout)},
                {"world size", std::to_string(index.world_size)},
                {"precision", orDash(state.precision)},
                {"engine version", orDash(state.engine_version)},
                {"saved at", orDash(state.saved_at)},
                {"seed", std::to_string(state.seed)},
                {"data position", std::to_string(state.data_position)},
                {"optimizer updates", std::to_string(state.optimizer_updates)},
                {"loss scale", number(state.loss_scale)}});
  out += "\nfiles: " + std::to_string(index.files.size()) + ", " + formatBytes(static_cast<double>(fileBytes(index))) + "\n";
  std::vector<std::vector<std::string>> files = {{"file", "rank", "bytes", "checksum"}};
  for (const IndexedFile& file : index.files) {
    files.push_back({file.name, std::to_string(file.rank), std::to_string(file.bytes), file.checksum});
  }
  out += table(files, {1, 2});
  out += "\ntensors: " + std::to_string(index.tensors.size()) + "\n";
  std::vector<std::vector<std::string>> tensors = {{"name", "shape", "dtype", "pieces"}};
  for (const IndexedTensor& tensor : index.tensors) {
    tensors.push_back({tensor.name, shapeText(tensor.shape), tensor.dtype, std::to_string(tensor.pieces.size())});
  }
  return out + table(tensors, {3});
}

json checkpointDetailsJson(const fs::path& dir, const CheckpointIndex& index, const TrainingState& state) {
  json files = json::array();
  for (const IndexedFile& file : index.files) {
    files.push_back({{"name", file.name}, {"rank", file.rank}, {"bytes", file.bytes}, {"checksum", file.checksum}});
  }
  json tensors = json::array();
  for (const IndexedTensor& tensor : index.tensors) {
    tensors.push_back({{"name", tensor.name}, {"shape", tensor.shape}, {"dtype", tensor.dtype},
                       {"pieces", tensor.pieces.size()}});
  }
  return {{"dir", dir.string()},
          {"format", index.format},
          {"step", index.step},
          {"project", projectName(state)},
          {"layout", state.layout},
          {"world_size", index.world_size},
          {"precision", state.precision},
          {"engine_version", state.engine_version},
          {"saved_at", state.saved_at},
          {"seed", state.seed},
          {"data_position", state.data_position},
          {"optimizer_updates", state.optimizer_updates},
          {"loss_scale", state.loss_scale},
          {"bytes", fileBytes(index)},
          {"files", files},
          {"tensors", tensors}};
}

std::string formatVerifyReport(const fs::path& dir, const VerifyReport& report) {
  if (report.ok()) {
    return "checkpoint " + dir.string() + ": ok (" + std::to_string(report.files_checked) + " files, " +
           std::to_string(report.pieces_checked) + " pieces, " + formatBytes(static_cast<double>(report.bytes_read)) +
           " read; every checksum matches and every tensor is covered exactly once)\n";
  }
  std::string out;
  for (const std::string& line : report.problems) out += line + "\n";
  return out + "checkpoint " + dir.string() + ": " + std::to_string(report.problems.size()) +
         (report.problems.size() == 1 ? " problem\n" : " problems\n");
}

}  // namespace behemoth
