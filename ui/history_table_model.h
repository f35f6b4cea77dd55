// The history's runs as a table: id, name, model size, plan, devices, outcome, steps, final loss,
// eval loss, throughput, peak memory, duration, start time, tags. Qt::UserRole holds the sort key
// (numbers sort as numbers), Qt::DisplayRole the text.
#pragma once

#include <QAbstractTableModel>

#include <vector>

#include "backend/history/history_store.h"

namespace behemoth::ui {

class HistoryTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { id = 0, name, model, plan, devices, outcome, steps, final_loss, eval_loss, tokens_per_s, peak_memory,
                duration, started, tags, column_count };

  using QAbstractTableModel::QAbstractTableModel;

  void setRuns(std::vector<RunRecord> runs);
  const RunRecord& run(int row) const { return runs_.at(static_cast<std::size_t>(row)); }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  std::vector<RunRecord> runs_;
};

}  // namespace behemoth::ui
