#include "ui/history_table_model.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

#include "backend/history/history_format.h"
#include "ui/model_zoo.h"

namespace behemoth::ui {

void HistoryTableModel::setRuns(std::vector<RunRecord> runs) {
  beginResetModel();
  runs_ = std::move(runs);
  endResetModel();
}

int HistoryTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(runs_.size());
}

int HistoryTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : column_count; }

QVariant HistoryTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const kNames[column_count] = {"ID",      "Name",  "Model", "Plan",     "Ranks",
                                                   "Outcome", "Steps", "Loss",  "Eval",     "Tokens/s",
                                                   "Peak RSS", "Time", "Started (UTC)", "Tags"};
  return tr(kNames[section]);
}

QVariant HistoryTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid()) return {};
  const RunRecord& r = runs_.at(static_cast<std::size_t>(index.row()));
  const auto column = static_cast<Column>(index.column());
  if (role == Qt::TextAlignmentRole) {
    const bool numeric = column == id || column == devices || column == steps || column == final_loss || column == eval_loss ||
                         column == tokens_per_s || column == peak_memory || column == duration || column == model;
    return QVariant::fromValue(Qt::Alignment((numeric ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignVCenter));
  }
  if (role == Qt::ForegroundRole && column == outcome) {
    switch (r.outcome) {
      case RunOutcome::completed: return QBrush(QColor(0x10, 0xB9, 0x81));
      case RunOutcome::failed: return QBrush(QColor(0xEF, 0x44, 0x44));
      case RunOutcome::stopped: return QBrush(QColor(0xF5, 0x9E, 0x0B));
      case RunOutcome::running: return QBrush(QColor(0x3B, 0x82, 0xF6));
      case RunOutcome::lost: return QBrush(QColor(0xA8, 0x55, 0xF7));
    }
  }
  if (role == Qt::ToolTipRole && column == outcome && !r.error.empty()) return QString::fromStdString(r.error);
  if (role != Qt::DisplayRole && role != Qt::UserRole) return {};
  const bool sort = role == Qt::UserRole;
  const auto optionalNumber = [&](const auto& value, const QString& text) -> QVariant {
    if (!value) return sort ? QVariant(std::numeric_limits<double>::max()) : QVariant(QStringLiteral("–"));
    return sort ? QVariant(double(*value)) : QVariant(text);
  };
  switch (column) {
    case id: return sort ? QVariant(qlonglong(r.id)) : QVariant(QString::number(r.id));
    case name: return QString::fromStdString(r.name);
    case model: return sort ? QVariant(qlonglong(r.parameter_count)) : QVariant(humanCount(double(r.parameter_count)));
    case plan: {
      const QString text = QString::fromStdString(planSummary(r.plan));
      return text.isEmpty() ? QStringLiteral("dp1") : text;
    }
    case devices: return sort ? QVariant(r.world_size) : QVariant(QString::number(r.world_size));
    case outcome: return QString::fromStdString(outcomeName(r.outcome));
    case steps: return sort ? QVariant(qlonglong(r.logged_steps)) : QVariant(QString::number(r.logged_steps));
    case final_loss:
      return optionalNumber(r.summary.final_loss, r.summary.final_loss ? QString::number(*r.summary.final_loss, 'f', 4) : QString());
    case eval_loss:
      return optionalNumber(r.summary.final_eval_loss,
                            r.summary.final_eval_loss ? QString::number(*r.summary.final_eval_loss, 'f', 4) : QString());
    case tokens_per_s:
      return optionalNumber(r.summary.tokens_per_s, r.summary.tokens_per_s ? humanCount(*r.summary.tokens_per_s) : QString());
    case peak_memory:
      return optionalNumber(r.summary.peak_rss_bytes,
                            r.summary.peak_rss_bytes ? humanBytes(double(*r.summary.peak_rss_bytes)) : QString());
    case duration:
      return optionalNumber(r.summary.duration_s,
                            r.summary.duration_s ? QString::number(*r.summary.duration_s, 'f', 1) + " s" : QString());
    case started: {
      QString text = QString::fromStdString(r.started_at);
      // "2026-11-23T16:14:05Z" -> "2026-11-23 16:14"
      return sort ? QVariant(text) : QVariant(text.replace('T', ' ').left(16));
    }
    case tags: {
      QStringList list;
      for (const std::string& tag : r.tags) list << QString::fromStdString(tag);
      return list.join(", ");
    }
    case column_count: break;
  }
  return {};
}

}  // namespace behemoth::ui
