#include "ui/chunk_model.h"

#include <QCoreApplication>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>

namespace behemoth::ui {
namespace {

QString tr(const char* text) { return QCoreApplication::translate("ChunkModel", text); }

// A record field that is missing or of the wrong type: one line naming the file and the field.
class RecordReader {
 public:
  explicit RecordReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw std::runtime_error(path_ + ": " + field + ": " + what);
  }

  const nlohmann::json& member(const nlohmann::json& object, const std::string& key, const std::string& field) const {
    const auto found = object.find(key);
    if (found == object.end()) fail(field, "missing");
    return *found;
  }

  std::int64_t integer(const nlohmann::json& object, const std::string& key, const std::string& where) const {
    const std::string field = where.empty() ? key : where + "." + key;
    const nlohmann::json& value = member(object, key, field);
    if (!value.is_number_integer()) fail(field, "expected a whole number, got " + value.dump());
    return value.get<std::int64_t>();
  }

  std::string text(const nlohmann::json& object, const std::string& key, const std::string& where) const {
    const std::string field = where.empty() ? key : where + "." + key;
    const nlohmann::json& value = member(object, key, field);
    if (!value.is_string()) fail(field, "expected text, got " + value.dump());
    return value.get<std::string>();
  }

  Tier tier(const nlohmann::json& object, const std::string& key, const std::string& where) const {
    const std::string name = text(object, key, where);
    try {
      return tierFromRecordName(name);
    } catch (const std::invalid_argument&) {
      fail(where + "." + key, "expected device, host or disk, got '" + name + "'");
    }
  }

  const nlohmann::json& array(const nlohmann::json& object, const std::string& key, const std::string& where) const {
    const std::string field = where.empty() ? key : where + "." + key;
    const nlohmann::json& value = member(object, key, field);
    if (!value.is_array()) fail(field, "expected a list, got " + value.dump());
    return value;
  }

 private:
  std::string path_;
};

std::string indexed(const std::string& key, std::size_t index) { return key + "[" + std::to_string(index) + "]"; }

QString summaryOf(const ChunkChart& chart, const std::int64_t tier_bytes[kTierCount], std::int64_t moved_bytes,
                  bool moved_known) {
  std::int64_t capacity = 0;
  std::int64_t padding = 0;
  int regular = 0;
  for (const ChunkRow& row : chart.rows) {
    capacity += row.capacity;
    padding += row.padding();
    regular += row.persistent ? 0 : 1;
  }
  QString text = tr("%1 chunks of %2 elements (%3 gathered)")
                     .arg(regular)
                     .arg(QString::number((chart.chunk_elements)))
                     .arg(binaryBytes(double(chart.chunk_elements) * chart.working_bytes));
  if (regular < int(chart.rows.size())) text += tr(" + the persistent chunk");
  text += tr(" · padding %1 %").arg(capacity > 0 ? 100.0 * double(padding) / double(capacity) : 0.0, 0, 'f', 1);
  text += tr(" · per rank: device %1, host %2, disk %3")
              .arg(binaryBytes(double(tier_bytes[0])), binaryBytes(double(tier_bytes[1])), binaryBytes(double(tier_bytes[2])));
  if (moved_known) text += tr(" · %1 moved between tiers per step").arg(binaryBytes(double(moved_bytes)));
  return text;
}

}  // namespace

const ChunkStep* ChunkChart::findStep(int step) const {
  for (const ChunkStep& s : steps) {
    if (s.step == step) return &s;
  }
  return nullptr;
}

Tier tierFromRecordName(const std::string& name) {
  if (name == "device") return Tier::device;
  if (name == "host") return Tier::host;
  if (name == "disk") return Tier::disk;
  throw std::invalid_argument("unknown tier '" + name + "'");
}

std::int64_t paramShardBytes(const ChunkRow& row, int dp, int working_bytes) {
  return row.capacity / std::max(1, dp) * working_bytes;
}

std::int64_t optimShardBytes(const ChunkRow& row, int dp, int working_bytes, const std::string& placement) {
  // fp32 gradient + two moments; a separate fp32 master unless the fp32 parameter shard itself is
  // the master (same tier, static placement).
  const bool separate_master = working_bytes != 4 || placement == "auto" || row.param_tier != row.optim_tier;
  const int per_element = separate_master ? 16 : 12;
  return row.capacity / std::max(1, dp) * per_element;
}

std::vector<UseStage> stepUseSequence(int blocks) {
  std::vector<UseStage> sequence;
  sequence.push_back({"forward", "embed", tr("F embed")});
  for (int b = 0; b < blocks; ++b) {
    sequence.push_back({"forward", "block " + std::to_string(b), tr("F block %1").arg(b)});
  }
  sequence.push_back({"forward", "head", tr("F head")});
  sequence.push_back({"backward", "head", tr("B head")});
  for (int b = blocks - 1; b >= 0; --b) {
    sequence.push_back({"backward", "block " + std::to_string(b), tr("B block %1").arg(b)});
  }
  sequence.push_back({"backward", "embed", tr("B embed")});
  sequence.push_back({"update", "update", tr("update")});
  return sequence;
}

int blocksOf(const ChunkChart& chart) {
  static const std::regex tensor_block(R"(^blocks\.(\d+)\.)");
  static const std::regex stage_block(R"(^block (\d+)$)");
  int blocks = 0;
  std::smatch match;
  for (const ChunkRow& row : chart.rows) {
    for (const std::string& name : row.tensors) {
      if (std::regex_search(name, match, tensor_block)) blocks = std::max(blocks, std::stoi(match[1].str()) + 1);
    }
  }
  for (const ChunkStep& step : chart.steps) {
    for (const auto& moves : step.moves) {
      for (const ChunkMove& move : moves) {
        if (std::regex_match(move.stage, match, stage_block)) blocks = std::max(blocks, std::stoi(match[1].str()) + 1);
      }
    }
  }
  return blocks;
}

int useIndexOf(const std::vector<UseStage>& sequence, const ChunkMove& move) {
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    if (sequence[i].phase == move.phase && (sequence[i].stage == move.stage || move.phase == "update")) return int(i);
  }
  return -1;
}

ChunkChart chartFromPlan(const ChunkPlan& plan, int dp, int working_bytes, const std::string& placement,
                         const QString& source_text) {
  ChunkChart chart;
  chart.source = ChunkSource::plan;
  chart.dp = dp;
  chart.working_bytes = working_bytes;
  chart.chunk_elements = plan.chunk_elements;
  chart.placement = placement;
  chart.title = tr("Chunks of one rank — plan (%1 placement)").arg(QString::fromStdString(placement));
  chart.source_text = source_text;
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    const PlannedChunk& planned = plan.chunks[c];
    ChunkRow row;
    row.index = int(c);
    row.tensors = planned.tensors;
    row.numel = planned.numel;
    row.capacity = planned.capacity;
    row.persistent = planned.persistent;
    row.param_tier = planned.param_tier;
    row.optim_tier = planned.optim_tier;
    chart.rows.push_back(std::move(row));
  }
  if (chart.rows.empty()) chart.message = tr("The plan has no chunks.");
  chart.summary = summaryOf(chart, plan.tier_bytes, plan.moved_bytes_per_step, true);
  chart.summary += tr(" · device peak %1").arg(binaryBytes(double(plan.device_peak_bytes)));
  return chart;
}

void applyTensorNumels(ChunkChart& chart, const std::vector<PlannedTensor>& tensors) {
  std::map<std::string, std::int64_t> numel_of;
  for (const PlannedTensor& tensor : tensors) numel_of[tensor.name] = tensor.numel;
  for (ChunkRow& row : chart.rows) {
    std::vector<std::int64_t> numels;
    std::int64_t sum = 0;
    for (const std::string& name : row.tensors) {
      const auto found = numel_of.find(name);
      if (found == numel_of.end()) break;
      numels.push_back(found->second);
      sum += found->second;
    }
    // Only a complete, consistent list is drawn; otherwise the row stays one block.
    if (numels.size() == row.tensors.size() && sum == row.numel) row.tensor_numels = std::move(numels);
  }
}

std::string chunkRecordPath(const std::string& out_dir, int rank) {
  char name[32];
  std::snprintf(name, sizeof(name), "rank-%05d.json", rank);
  return (std::filesystem::path(out_dir) / "chunks" / name).string();
}

std::vector<int> recordedChunkRanks(const std::string& out_dir) {
  std::vector<int> ranks;
  std::error_code error;
  const std::filesystem::path folder = std::filesystem::path(out_dir) / "chunks";
  if (out_dir.empty() || !std::filesystem::is_directory(folder, error)) return ranks;
  static const std::regex record_name(R"(^rank-(\d{5})\.json$)");
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, record_name)) ranks.push_back(std::stoi(match[1].str()));
  }
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

ChunkChart readChunkRecord(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  nlohmann::json json;
  try {
    in >> json;
  } catch (const nlohmann::json::parse_error& error) {
    throw std::runtime_error(path + ": not JSON (" + std::string(error.what()) + ")");
  }
  const RecordReader read(path);
  if (!json.is_object()) read.fail("(top level)", "expected an object");
  ChunkChart chart;
  chart.source = ChunkSource::measured;
  chart.rank = int(read.integer(json, "rank", ""));
  chart.dp = int(read.integer(json, "dp", ""));
  if (chart.dp < 1) read.fail("dp", "must be >= 1, got " + std::to_string(chart.dp));
  chart.chunk_elements = read.integer(json, "chunk_elements", "");
  chart.working_bytes = int(read.integer(json, "working_bytes", ""));
  if (chart.working_bytes != 2 && chart.working_bytes != 4) {
    read.fail("working_bytes", "expected 2 or 4, got " + std::to_string(chart.working_bytes));
  }
  chart.placement = read.text(json, "placement", "");
  const nlohmann::json& chunks = read.array(json, "chunks", "");
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const std::string where = indexed("chunks", c);
    const nlohmann::json& chunk = chunks[c];
    if (!chunk.is_object()) read.fail(where, "expected an object");
    ChunkRow row;
    row.index = int(read.integer(chunk, "index", where));
    if (row.index != int(c)) read.fail(where + ".index", "expected " + std::to_string(c) + ", got " + std::to_string(row.index));
    const nlohmann::json& tensors = read.array(chunk, "tensors", where);
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      if (!tensors[t].is_string()) read.fail(indexed(where + ".tensors", t), "expected a tensor name");
      row.tensors.push_back(tensors[t].get<std::string>());
    }
    row.numel = read.integer(chunk, "numel", where);
    row.capacity = read.integer(chunk, "capacity", where);
    if (row.numel < 0 || row.capacity < row.numel) {
      read.fail(where + ".capacity", std::to_string(row.capacity) + " is below numel " + std::to_string(row.numel));
    }
    const nlohmann::json& persistent = read.member(chunk, "persistent", where + ".persistent");
    if (!persistent.is_boolean()) read.fail(where + ".persistent", "expected true or false");
    row.persistent = persistent.get<bool>();
    row.param_tier = read.tier(chunk, "param_tier", where);
    row.optim_tier = read.tier(chunk, "optim_tier", where);
    chart.rows.push_back(std::move(row));
  }
  const nlohmann::json& steps = read.array(json, "steps", "");
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const std::string where = indexed("steps", s);
    const nlohmann::json& entry = steps[s];
    if (!entry.is_object()) read.fail(where, "expected an object");
    ChunkStep step;
    step.step = int(read.integer(entry, "step", where));
    step.device_bytes = read.integer(entry, "device_bytes", where);
    step.device_peak_bytes = read.integer(entry, "device_peak_bytes", where);
    step.host_bytes = read.integer(entry, "host_bytes", where);
    step.disk_bytes = read.integer(entry, "disk_bytes", where);
    step.moved_bytes = read.integer(entry, "moved_bytes", where);
    step.moves.resize(chart.rows.size());
    const nlohmann::json& moves = read.array(entry, "moves", where);
    for (std::size_t m = 0; m < moves.size(); ++m) {
      const std::string at = indexed(where + ".moves", m);
      const nlohmann::json& item = moves[m];
      if (!item.is_object()) read.fail(at, "expected an object");
      const std::int64_t chunk = read.integer(item, "chunk", at);
      if (chunk < 0 || chunk >= std::int64_t(chart.rows.size())) {
        read.fail(at + ".chunk", std::to_string(chunk) + " is not one of the " + std::to_string(chart.rows.size()) + " chunks");
      }
      ChunkMove move;
      move.part = read.text(item, "part", at);
      if (move.part != "param" && move.part != "grad" && move.part != "optim") {
        read.fail(at + ".part", "expected param, grad or optim, got '" + move.part + "'");
      }
      move.from = read.tier(item, "from", at);
      move.to = read.tier(item, "to", at);
      move.bytes = read.integer(item, "bytes", at);
      move.phase = read.text(item, "phase", at);
      if (move.phase != "forward" && move.phase != "backward" && move.phase != "update") {
        read.fail(at + ".phase", "expected forward, backward or update, got '" + move.phase + "'");
      }
      move.stage = read.text(item, "stage", at);
      step.moves[std::size_t(chunk)].push_back(std::move(move));
    }
    chart.steps.push_back(std::move(step));
  }
  chart.title = tr("Chunks of rank %1 — measured (%2 placement)").arg(chart.rank).arg(QString::fromStdString(chart.placement));
  chart.source_text = tr("Recorded by the engine: %1 (dp rank %2 of %3)")
                          .arg(QString::fromStdString(path))
                          .arg(json.value("dp_rank", 0))
                          .arg(chart.dp);
  if (chart.rows.empty()) chart.message = tr("The record holds no chunks.");
  // Bytes per tier at the end of the last recorded step, as the engine counted them.
  std::int64_t tiers[kTierCount] = {0, 0, 0};
  std::int64_t moved = 0;
  if (!chart.steps.empty()) {
    const ChunkStep& last = chart.steps.back();
    tiers[0] = last.device_bytes;
    tiers[1] = last.host_bytes;
    tiers[2] = last.disk_bytes;
    moved = last.moved_bytes;
  }
  chart.summary = summaryOf(chart, tiers, moved, !chart.steps.empty());
  if (!chart.steps.empty()) {
    chart.summary += tr(" · device peak %1 (step %2)")
                         .arg(binaryBytes(double(chart.steps.back().device_peak_bytes)))
                         .arg(chart.steps.back().step);
  }
  return chart;
}

QString rowToolTip(const ChunkChart& chart, std::size_t index, const ChunkStep* step) {
  const ChunkRow& row = chart.rows.at(index);
  QString text = row.persistent ? tr("<b>Chunk %1 — persistent</b> (small tensors, gathered all run)").arg(row.index)
                                : tr("<b>Chunk %1</b>").arg(row.index);
  text += tr("<br>%1 of %2 elements hold tensors; padding %3 (%4 %)")
              .arg(QString::number((row.numel)), QString::number((row.capacity)),
                   QString::number((row.padding())))
              .arg(100.0 * row.paddingFraction(), 0, 'f', 1);
  text += tr("<br>parameter shard %1 on the %2 · optimizer shard %3 on the %4")
              .arg(binaryBytes(double(paramShardBytes(row, chart.dp, chart.working_bytes))),
                   QString::fromStdString(tierName(row.param_tier)),
                   binaryBytes(double(optimShardBytes(row, chart.dp, chart.working_bytes, chart.placement))),
                   QString::fromStdString(tierName(row.optim_tier)));
  text += tr("<br><b>Tensors</b> (%1):").arg(row.tensors.size());
  for (std::size_t t = 0; t < row.tensors.size(); ++t) {
    text += QStringLiteral("<br>&nbsp;&nbsp;") + QString::fromStdString(row.tensors[t]).toHtmlEscaped();
    if (t < row.tensor_numels.size()) {
      text += QStringLiteral(" — ") + QString::number((row.tensor_numels[t]));
    }
  }
  if (step && index < step->moves.size()) {
    const auto& moves = step->moves[index];
    text += tr("<br><b>Moves in step %1</b> (%2):").arg(step->step).arg(moves.size());
    for (const ChunkMove& move : moves) {
      text += tr("<br>&nbsp;&nbsp;%1 %2 → %3, %4, %5 %6")
                  .arg(QString::fromStdString(move.part), QString::fromStdString(tierName(move.from)),
                       QString::fromStdString(tierName(move.to)), binaryBytes(double(move.bytes)),
                       QString::fromStdString(move.phase), QString::fromStdString(move.phase == "update" ? "" : move.stage));
    }
  }
  return text;
}

QString binaryBytes(double bytes) {
  const double a = std::abs(bytes);
  if (a >= double(1LL << 30)) return QString::number(bytes / double(1LL << 30), 'f', 2) + QStringLiteral(" GiB");
  if (a >= double(1 << 20)) return QString::number(bytes / double(1 << 20), 'f', 2) + QStringLiteral(" MiB");
  if (a >= 1024) return QString::number(bytes / 1024.0, 'f', 1) + QStringLiteral(" KiB");
  return QString::number(bytes, 'f', 0) + QStringLiteral(" B");
}

}  // namespace behemoth::ui
