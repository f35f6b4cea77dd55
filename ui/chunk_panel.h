// A ZeRO-3 run's measured chunks: the engine's record of one rank (OUT_DIR/chunks/rank-NNNNN.json)
// drawn by the chunk view, with a rank selector when several ranks wrote one and a step selector
// for the recorded steps whose moves are drawn. Hidden by the Run view for runs without a record.
#pragma once

#include <QWidget>

#include <nlohmann/json.hpp>
#include <vector>

#include "memory/chunk_plan.h"

class QComboBox;
class QLabel;

namespace behemoth::ui {

class ChunkView;

class ChunkPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ChunkPanel(QWidget* parent = nullptr);

  // Lists OUT_DIR's chunk records and shows the lowest rank's. `project`: the run's project JSON,
  // whose planned tensors give each tensor's element count (empty JSON: none). Returns whether
  // OUT_DIR has a chunks folder (a record that cannot be read shows the reader's message).
  bool showRun(const QString& out_dir, const nlohmann::json& project);
  void clear();
  bool hasRecord() const { return has_record_; }
  void showRank(int rank);

  QComboBox* rankCombo() const { return ranks_; }
  QComboBox* stepCombo() const { return steps_; }
  ChunkView* view() const { return view_; }
  QLabel* message() const { return message_; }

 private:
  QString out_dir_;
  std::vector<PlannedTensor> tensors_;
  bool has_record_ = false;
  QLabel* title_;
  QLabel* rank_label_;
  QComboBox* ranks_;
  QComboBox* steps_;
  QLabel* message_;
  ChunkView* view_;
};

}  // namespace behemoth::ui
