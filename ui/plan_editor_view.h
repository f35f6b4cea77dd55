// Plan editor: ZeRO stage, optimizer offload, precision, batch and micro-batch, gradient buckets,
// and the training settings. Options the engine cannot run yet are shown disabled with the
// engine's own reason (probed with rejectUnavailableFeatures, so they enable as strategies land).
#pragma once

#include <QWidget>

#include <functional>
#include <map>
#include <string>

#include "backend/project/project.h"
#include "ui/estimate_service.h"
#include "ui/field_binding.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSpinBox;

namespace behemoth::ui {

class ProjectDocument;

// The engine's reason why the project with `change` applied could not run, or empty when it
// could. Device availability and the axis sizes are neutral (planning describes hardware that is
// not here; each axis is judged at its own field), so only the changed option is judged.
QString unavailableReason(const nlohmann::json& project, const std::string& base_dir,
                          const std::function<void(Project&)>& change);

class PlanEditorView : public QWidget {
  Q_OBJECT

 public:
  PlanEditorView(ProjectDocument* document, QWidget* parent = nullptr);

  void showAnalysis(const AnalysisPtr& analysis);
  QComboBox* zeroCombo() const { return zero_; }
  QComboBox* precisionCombo() const { return precision_; }
  QCheckBox* offloadCheck() const { return offload_; }
  QSpinBox* microBatchSpin() const { return micro_batch_; }
  QWidget* fieldWidget(const std::string& field) const;

 private:
  void refreshAvailability();

  ProjectDocument* document_;
  QComboBox* zero_;
  QComboBox* precision_;
  QCheckBox* offload_;
  QCheckBox* sequence_parallel_ = nullptr;
  QSpinBox* micro_batch_;
  QLabel* batching_;
  QLabel* error_;
  FieldWidgets fields_;
};

}  // namespace behemoth::ui
